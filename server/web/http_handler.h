#pragma once

#include <string>
#include <string_view>

#include "server/collector/admin_queries.h"
#include "server/web/api_support.h"
#include "server/web/auth.h"

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

// The dashboard's HTTP semantics, independent of the transport: static
// assets and the JSON API. The API answers with the admin service's
// messages in protobuf's JSON mapping. Every API call but login needs a
// session cookie; every state-changing call also needs the session's CSRF
// token in X-CSRF-Token.
class WebHandler {
 public:
  WebHandler(AuthService* auth, const AdminQueries* queries);

  HttpResponse Handle(const HttpRequest& request) const;

 private:
  HttpResponse HandleApi(const HttpRequest& request, std::string_view path) const;
  HttpResponse Login(const HttpRequest& request) const;

  AuthService* auth_;
  const AdminQueries* queries_;
};

}  // namespace mamori::web
