#pragma once

#include <optional>

#include "server/accounts/auth.h"
#include "server/web/api_support.h"

namespace mamori::web {

// Dashboard accounts, for admins only (viewers and operators get 403):
//   GET  /api/users              the accounts, never a secret
//   POST /api/users              {"name", "role"}: a new account
//   POST /api/users/NAME/reset   new password and TOTP secret
//   POST /api/users/NAME/disable refuse logins, end sessions
//   POST /api/users/NAME/role    {"role"}
// Add and reset answer with the one-time password, the otpauth URI and its
// QR code as SVG in that one response: the secret is never served again.
// Nothing for paths outside /api/users.
std::optional<HttpResponse> HandleUsersApi(const ApiCall& call, AuthService* auth);

}  // namespace mamori::web
