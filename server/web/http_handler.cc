#include "server/web/http_handler.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <boost/beast/http/verb.hpp>
#include <cctype>

#include "common/base/logging.h"
#include "server/web/api_enrollment.h"
#include "server/web/api_events.h"
#include "server/web/api_exceptions.h"
#include "server/web/api_ledger.h"
#include "server/web/api_policies.h"
#include "server/web/api_revocations.h"
#include "server/web/api_terminals.h"
#include "server/web/api_trend.h"
#include "server/web/api_unlock.h"
#include "server/web/api_users.h"
#include "server/web/static_assets.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

std::shared_ptr<spdlog::logger> Log() { return WebLog(); }

std::string SessionCookie(std::string_view token, int64_t max_age_s) {
  return std::string(kSessionCookie) + "=" + std::string(token) +
         "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
}

// A browser always sends Origin on cross-origin POSTs; when present it must
// name this host. Together with SameSite=Strict and the CSRF token this
// closes cross-site requests, login CSRF included.
bool OriginAllowed(const HttpRequest& request) {
  const auto origin = request.find(http::field::origin);
  if (origin == request.end()) return true;
  const auto host = request.find(http::field::host);
  if (host == request.end()) return false;
  return Sv(origin->value()) == "https://" + std::string(Sv(host->value()));
}

}  // namespace

void ApplySecurityHeaders(HttpResponse& res) {
  res.set("Content-Security-Policy",
          "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
          "frame-ancestors 'none'");
  res.set(http::field::strict_transport_security, "max-age=31536000; includeSubDomains");
  res.set("X-Frame-Options", "DENY");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Cross-Origin-Opener-Policy", "same-origin");
  res.set("Cross-Origin-Resource-Policy", "same-origin");
}

WorkKind WorkKindOf(const HttpRequest& request) {
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/api/login") return WorkKind::kLogin;
  if (path.starts_with("/api/")) return WorkKind::kQuery;
  return WorkKind::kInline;
}

std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return std::string(pair.substr(eq + 1));
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return "";
}

std::string QueryParam(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

WebHandler::WebHandler(AuthService* auth, const AdminQueries* queries, MediaLedger* ledger,
                       AuditTrail* audit, ExceptionWorkflow* exceptions, UnlockIssuer* unlock,
                       EnrollmentWorkflow* enrollment, RevocationRegistry* revocations)
    : auth_(auth),
      queries_(queries),
      ledger_(ledger),
      audit_(audit),
      exceptions_(exceptions),
      unlock_(unlock),
      enrollment_(enrollment),
      revocations_(revocations) {}

HttpResponse WebHandler::Handle(const HttpRequest& request) const {
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path.starts_with("/api/")) return HandleApi(request, path);
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    auto res = JsonError(request, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  const std::optional<std::string> normalized = NormalizeStaticPath(target);
  if (!normalized) {
    // The target is the client's: keep the log line printable and short.
    std::string shown(target.substr(0, 200));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    Log()->warn("refused static path {}", shown);
    return JsonError(request, http::status::bad_request, "bad path");
  }
  const EmbeddedAsset* asset = FindAsset(*normalized);
  if (asset == nullptr) return JsonError(request, http::status::not_found, "not found");
  auto res = MakeResponse(request, http::status::ok, ContentTypeFor(asset->path),
                          std::string(asset->data));
  res.set(http::field::cache_control, "no-cache");
  if (request.method() == http::verb::head) res.body().clear();
  return res;
}

HttpResponse WebHandler::Login(const HttpRequest& request) const {
  const auto type = request.find(http::field::content_type);
  // A cross-site HTML form cannot send application/json, so a forged login
  // (login CSRF) needs a CORS preflight this server never grants.
  if (type == request.end() || !Sv(type->value()).starts_with("application/json")) {
    return JsonError(request, http::status::unsupported_media_type,
                     "expected Content-Type: application/json");
  }
  google::protobuf::Struct body;
  if (!google::protobuf::util::JsonStringToMessage(request.body(), &body).ok()) {
    return JsonError(request, http::status::bad_request, "body is not a JSON object");
  }
  const auto field = [&](const std::string& key) -> std::string {
    auto it = body.fields().find(key);
    return it == body.fields().end() ? std::string() : it->second.string_value();
  };
  auto login = auth_->Login(field("name"), field("password"), field("code"));
  if (audit_ != nullptr) {
    // The name as typed: the audit trail bounds it and makes it printable.
    const std::string name = login.ok() ? login->session.user : field("name");
    (void)audit_->Record(WebActor(name), login.ok() ? audit::kLoginOk : audit::kLoginFail, name,
                         login.ok() ? "" : login.error().message,
                         login.ok() ? AuditOutcome::kOk : AuditOutcome::kDenied);
  }
  if (!login.ok()) return FromError(request, login.error());
  google::protobuf::Struct out;
  (*out.mutable_fields())["user"].set_string_value(login->session.user);
  (*out.mutable_fields())["role"].set_string_value(std::string(RoleName(login->session.role)));
  (*out.mutable_fields())["csrfToken"].set_string_value(login->session.csrf_token);
  auto res = JsonMessage(request, out);
  res.set(http::field::set_cookie,
          SessionCookie(login->token, std::max<int64_t>(1, auth_->session_ttl_ms() / 1000)));
  return res;
}

HttpResponse WebHandler::HandleApi(const HttpRequest& request, std::string_view path) const {
  const bool is_get = request.method() == http::verb::get;
  const bool is_post = request.method() == http::verb::post;
  if (!is_get && !is_post) {
    return JsonError(request, http::status::method_not_allowed, "method not allowed");
  }
  if (is_post && !OriginAllowed(request)) {
    Log()->warn("refused cross-origin POST {}", std::string(path));
    return JsonError(request, http::status::forbidden, "cross-origin request refused");
  }
  if (path == "/api/login") {
    if (!is_post) return JsonError(request, http::status::method_not_allowed, "use POST");
    return Login(request);
  }

  const auto cookie = request.find(http::field::cookie);
  const std::string token =
      cookie == request.end() ? std::string() : CookieValue(Sv(cookie->value()), kSessionCookie);
  auto session = auth_->Authenticate(token);
  if (!session.ok()) return FromError(request, session.error());

  if (is_post) {
    const auto csrf = request.find(Bsv(kCsrfHeader));
    if (csrf == request.end() || !CsrfMatches(*session, Sv(csrf->value()))) {
      Log()->warn("refused POST {} by '{}': missing or wrong CSRF token", std::string(path),
                  session->user);
      return JsonError(request, http::status::forbidden, "missing or wrong CSRF token");
    }
  }

  const ApiCall call{request, path, *session, is_get, is_post, audit_};
  const auto require = [&](Role role) { return call.Allows(role); };
  const auto forbidden = [&]() { return call.Forbidden(); };

  // Each area of the dashboard answers its own paths in its own file; an
  // area handler returns nothing for a path that is not its own.
  // (Area dispatch goes here.)
  if (auto r = HandleUsersApi(call, auth_)) return std::move(*r);
  // Before the terminals area, which owns the rest of /api/terminals/.
  if (auto r = HandleRevocationApi(call, revocations_)) return std::move(*r);
  for (auto area : {HandleEventsApi, HandlePoliciesApi, HandleTrendApi, HandleTerminalsApi})
    if (auto r = area(call, *queries_)) return std::move(*r);
  if (auto r = HandleLedgerApi(call, ledger_, audit_)) return std::move(*r);
  if (auto r = HandleExceptionsApi(call, exceptions_)) return std::move(*r);
  if (auto r = HandleUnlockApi(call, unlock_)) return std::move(*r);
  if (auto r = HandleEnrollmentApi(call, enrollment_)) return std::move(*r);

  if (path == "/api/logout" && is_post) {
    if (Status s = auth_->Logout(token); !s.ok()) return FromError(request, s.error());
    Log()->info("user '{}' logged out", session->user);
    call.Audit(audit::kLogout, session->user, "", AuditOutcome::kOk);
    google::protobuf::Struct out;
    auto res = JsonMessage(request, out);
    res.set(http::field::set_cookie, SessionCookie("", 0));
    return res;
  }
  if (path == "/api/me" && is_get) {
    google::protobuf::Struct out;
    (*out.mutable_fields())["user"].set_string_value(session->user);
    (*out.mutable_fields())["role"].set_string_value(std::string(RoleName(session->role)));
    (*out.mutable_fields())["csrfToken"].set_string_value(session->csrf_token);
    return JsonMessage(request, out);
  }
  if (path == "/api/overview" && is_get) {
    if (!require(Role::kViewer)) return forbidden();
    v1::GroupSummariesRequest req;
    req.set_group(QueryParam(Sv(request.target()), "group"));
    v1::GroupSummariesResponse resp;
    if (Status s = queries_->GroupSummaries(req, &resp); !s.ok()) {
      return FromError(request, s.error());
    }
    return JsonMessage(request, resp);
  }
  return JsonError(request, http::status::not_found, "no such API");
}

}  // namespace mamori::web
