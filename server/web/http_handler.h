#pragma once

#include <string>
#include <string_view>

#include "server/accounts/auth.h"
#include "server/admin/admin_queries.h"
#include "server/admin/unlock_issuer.h"
#include "server/audit/audit_trail.h"
#include "server/enrollment/enrollment_workflow.h"
#include "server/exceptions/exception_workflow.h"
#include "server/ledger/media_ledger.h"
#include "server/revocation/revocation_registry.h"
#include "server/web/api_support.h"

namespace mamori::web {

constexpr std::string_view kSessionCookie = "mamori_session";
constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// Headers every response carries, errors included: a CSP without inline
// script or style, HSTS, frame denial (both the header and frame-ancestors),
// no MIME sniffing, no referrer.
void ApplySecurityHeaders(HttpResponse& response);

// The value of cookie `name` in a Cookie header, or "".
std::string CookieValue(std::string_view cookie_header, std::string_view name);
// Decoded value of `key` in a query string ("a=1&b=x%20y"), or "".
std::string QueryParam(std::string_view target, std::string_view key);

// Where the transport runs a request: kInline on its I/O thread (static
// assets, answered from memory), kQuery on its worker pool (everything
// that reads the store), kLogin on its own lane (password hashing is slow
// on purpose, and logins are serialised; see AuthService).
enum class WorkKind { kInline, kQuery, kLogin };
WorkKind WorkKindOf(const HttpRequest& request);

// The dashboard's HTTP semantics, independent of the transport: static
// assets and the JSON API. The API answers with the admin service's
// messages in protobuf's JSON mapping. Every API call but login needs a
// session cookie; every state-changing call also needs the session's CSRF
// token in X-CSRF-Token.
class WebHandler {
 public:
  // `ledger` serves the media ledger pages and `audit` records logins,
  // logouts and every change made through the API; without them those
  // areas answer 503 and nothing is recorded.
  // `unlock` lists issued offline unlock codes; without it that API answers 503.
  // `enrollment` serves enrollment tokens and enrollments; likewise.
  // `revocations` lets admins revoke and retire terminals (503 without).
  WebHandler(AuthService* auth, const AdminQueries* queries, MediaLedger* ledger = nullptr,
             AuditTrail* audit = nullptr, ExceptionWorkflow* exceptions = nullptr,
             UnlockIssuer* unlock = nullptr, EnrollmentWorkflow* enrollment = nullptr,
             RevocationRegistry* revocations = nullptr);

  HttpResponse Handle(const HttpRequest& request) const;

 private:
  HttpResponse HandleApi(const HttpRequest& request, std::string_view path) const;
  HttpResponse Login(const HttpRequest& request) const;

  AuthService* auth_;
  const AdminQueries* queries_;
  MediaLedger* ledger_;
  AuditTrail* audit_;
  ExceptionWorkflow* exceptions_;
  UnlockIssuer* unlock_;
  EnrollmentWorkflow* enrollment_;
  RevocationRegistry* revocations_;
};

}  // namespace mamori::web
