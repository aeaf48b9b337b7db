#include "server/revocation/revocation_wire.h"

#include "proto/wire/convert.h"

namespace mamori {

void ToProto(const RevocationRecord& r, v1::RevocationView* out) {
  out->set_id(static_cast<uint64_t>(r.id));
  out->set_kind(std::string(RevocationKindName(r.kind)));
  out->set_role(r.role);
  out->set_subject(r.subject);
  out->set_cert_sha256(r.cert_sha256);
  out->set_reason(r.reason);
  out->set_actor(r.actor);
  SetMs(r.at_ms, out->mutable_at());
}

}  // namespace mamori
