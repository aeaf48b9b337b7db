#pragma once

// Revocation records in admin.proto's terms, for the admin service and the
// dashboard alike.

#include "mamori/v1/admin.pb.h"
#include "server/store/revocation_repository.h"

namespace mamori {

void ToProto(const RevocationRecord& r, v1::RevocationView* out);

}  // namespace mamori
