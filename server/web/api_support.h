#pragma once

#include <google/protobuf/message.h>
#include <spdlog/logger.h>

#include <boost/beast/core/string_type.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "server/accounts/auth.h"
#include "server/audit/audit_trail.h"

namespace mamori::web {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Building blocks of the JSON API, shared by the files that serve one area
// of the dashboard each (http_handler.cc dispatches to them).

std::shared_ptr<spdlog::logger> WebLog();

inline std::string_view Sv(boost::beast::string_view s) { return {s.data(), s.size()}; }
inline boost::beast::string_view Bsv(std::string_view s) { return {s.data(), s.size()}; }

// A response with the security headers, keep-alive as requested and the
// payload prepared.
HttpResponse MakeResponse(const HttpRequest& request, boost::beast::http::status status,
                          std::string_view content_type, std::string body);
// `s` as a JSON string literal, quotes included.
std::string JsonEscape(std::string_view s);
// {"error": message}, never cached.
HttpResponse JsonError(const HttpRequest& request, boost::beast::http::status status,
                       std::string_view message);
// The message in protobuf's JSON mapping (default values included), never cached.
HttpResponse JsonMessage(const HttpRequest& request, const google::protobuf::Message& message);
// The HTTP status of an error; internal errors are logged and answered
// without their details.
boost::beast::http::status StatusFor(const Error& e);
HttpResponse FromError(const HttpRequest& request, const Error& e);
// Percent-decoding of a path segment or query value ('+' is a space).
std::string PercentDecode(std::string_view s);

// One authenticated API request, as the area handlers see it. CSRF and
// Origin have been checked for POSTs before it is built.
struct ApiCall;

// The request body as `message` in protobuf's JSON mapping; unknown fields
// are refused so a typo does not silently drop a value. nullopt when it
// parsed; otherwise the 415 or 400 to answer.
std::optional<HttpResponse> ParseJsonBody(const ApiCall& call, google::protobuf::Message* message);

struct ApiCall {
  const HttpRequest& request;
  std::string_view path;  // without the query string
  const SessionInfo& session;
  bool is_get = false;
  bool is_post = false;

  // The audit log (null in handlers built without one).
  AuditTrail* audit = nullptr;

  bool Allows(Role role) const { return session.role >= role; }
  // "web:<user>": who acts, as the audit log names it.
  std::string Actor() const;
  // Records an administrative action of this session in the audit log.
  void Audit(std::string_view action, std::string_view target, std::string_view detail,
             AuditOutcome outcome) const;
  // 403 "your role may not do this", logged with user and role.
  HttpResponse Forbidden() const;
  // The request's query parameter `key`, decoded, or "".
  std::string Query(std::string_view key) const;
};

}  // namespace mamori::web
