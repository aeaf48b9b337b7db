#pragma once

#include <optional>

#include "server/revocation/revocation_registry.h"
#include "server/web/api_support.h"

namespace mamori::web {

// Revocation and retirement of terminals from the dashboard (admins only):
//   POST /api/terminals/{id}/revoke   {"reason": "..."}   RevocationView
//   POST /api/terminals/{id}/retire   {"reason": "..."}   RevocationView
//   GET  /api/revocations                                 ListRevocationsResponse
// The same registry as the admin gRPC service, so both record, audit and
// close streams alike. Nothing for other paths; 503 without a registry.
std::optional<HttpResponse> HandleRevocationApi(const ApiCall& call,
                                                RevocationRegistry* revocations);

}  // namespace mamori::web
