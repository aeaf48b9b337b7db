#pragma once

#include <optional>

#include "server/admin/unlock_issuer.h"
#include "server/web/api_support.h"

namespace mamori::web {

// Offline unlock codes as issued, with their reported use (admins only):
//   GET /api/unlock-codes[?terminal=T&limit=N]   ListUnlockCodesResponse
// Issuing stays with mamorictl (an admin certificate). Nothing for other
// paths.
std::optional<HttpResponse> HandleUnlockApi(const ApiCall& call, UnlockIssuer* unlock);

}  // namespace mamori::web
