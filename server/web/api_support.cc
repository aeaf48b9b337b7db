#include "server/web/api_support.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "common/base/logging.h"
#include "server/web/http_handler.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

int PercentValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecodeImpl(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && PercentValue(s[i + 1]) >= 0 &&
               PercentValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(PercentValue(s[i + 1]) * 16 + PercentValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::shared_ptr<spdlog::logger> WebLog() {
  static const auto log = GetLogger("web");
  return log;
}

HttpResponse MakeResponse(const HttpRequest& request, http::status status,
                          std::string_view content_type, std::string body) {
  HttpResponse res{status, request.version()};
  res.set(http::field::content_type, Bsv(content_type));
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  ApplySecurityHeaders(res);
  return res;
}

std::string JsonEscape(std::string_view s) {
  google::protobuf::Value v;
  v.set_string_value(std::string(s));
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(v, &out);
  return out;
}

HttpResponse JsonError(const HttpRequest& request, http::status status, std::string_view message) {
  auto res = MakeResponse(request, status, "application/json; charset=utf-8",
                          "{\"error\":" + JsonEscape(message) + "}");
  res.set(http::field::cache_control, "no-store");
  return res;
}

HttpResponse JsonMessage(const HttpRequest& request, const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return JsonError(request, http::status::internal_server_error, "cannot encode JSON");
  }
  auto res =
      MakeResponse(request, http::status::ok, "application/json; charset=utf-8", std::move(json));
  res.set(http::field::cache_control, "no-store");
  return res;
}

http::status StatusFor(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
      return http::status::bad_request;
    case ErrorCode::kNotFound:
      return http::status::not_found;
    case ErrorCode::kUnauthenticated:
      return http::status::unauthorized;
    case ErrorCode::kPermissionDenied:
      return http::status::forbidden;
    case ErrorCode::kAlreadyExists:
      return http::status::conflict;
    default:
      return http::status::internal_server_error;
  }
}

HttpResponse FromError(const HttpRequest& request, const Error& e) {
  const http::status status = StatusFor(e);
  if (status == http::status::internal_server_error) {
    WebLog()->error("{} {}: {}", std::string(request.method_string()),
                    std::string(request.target()), e.message);
    return JsonError(request, status, "internal error");
  }
  return JsonError(request, status, e.message);
}

std::string PercentDecode(std::string_view s) { return PercentDecodeImpl(s); }

HttpResponse ApiCall::Forbidden() const {
  WebLog()->warn("refused {} {} for '{}' ({})", std::string(request.method_string()),
                 std::string(path), session.user, RoleName(session.role));
  return JsonError(request, http::status::forbidden, "your role may not do this");
}

std::string ApiCall::Actor() const { return WebActor(session.user); }

void ApiCall::Audit(std::string_view action, std::string_view target, std::string_view detail,
                    AuditOutcome outcome) const {
  if (audit != nullptr) (void)audit->Record(Actor(), action, target, detail, outcome);
}

std::string ApiCall::Query(std::string_view key) const {
  return QueryParam(Sv(request.target()), key);
}

// The request body as `message` in protobuf's JSON mapping; unknown fields
// are refused so a typo does not silently drop a value.
std::optional<HttpResponse> ParseJsonBody(const ApiCall& call, google::protobuf::Message* message) {
  const auto type = call.request.find(http::field::content_type);
  if (type == call.request.end() || !Sv(type->value()).starts_with("application/json")) {
    return JsonError(call.request, http::status::unsupported_media_type,
                     "expected Content-Type: application/json");
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status =
      google::protobuf::util::JsonStringToMessage(call.request.body(), message, options);
  if (!status.ok()) {
    return JsonError(call.request, http::status::bad_request,
                     "body is not a valid " + message->GetDescriptor()->name() + ": " +
                         std::string(status.message()));
  }
  return std::nullopt;
}

}  // namespace mamori::web
