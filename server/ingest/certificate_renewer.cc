#include "server/ingest/certificate_renewer.h"

#include "proto/wire/convert.h"

namespace mamori {

void ToProto(const IssuedCredential& c, v1::IssuedCertificate* out) {
  out->set_terminal_id(c.id);
  out->set_group(c.group);
  out->set_certificate_pem(c.cert_pem);
  out->set_chain_pem(c.chain_pem);
  out->set_ca_pem(c.ca_pem);
  SetMs(c.not_before_ms, out->mutable_not_before());
  SetMs(c.not_after_ms, out->mutable_not_after());
  out->set_serial(c.serial_hex);
}

}  // namespace mamori
