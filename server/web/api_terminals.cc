#include "server/web/api_terminals.h"

#include <cctype>

#include "mamori/v1/admin.pb.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 500;
// Pages beyond this would skip more terminals than any deployment has.
constexpr uint32_t kMaxPage = 1'000'000;

// A decimal number from 0 to `max`, or nullopt.
std::optional<uint32_t> SmallNumber(std::string_view text, uint32_t max) {
  if (text.empty() || text.size() > 7 || text.find_first_not_of("0123456789") != text.npos) {
    return std::nullopt;
  }
  const uint64_t v = std::stoull(std::string(text));
  if (v > max) return std::nullopt;
  return static_cast<uint32_t>(v);
}

HttpResponse List(const ApiCall& call, const AdminQueries& queries) {
  v1::ListTerminalsRequest req;
  req.set_group(call.Query("group"));
  if (const std::string status = call.Query("status"); !status.empty()) {
    std::string upper;
    for (char c : status) upper.push_back(static_cast<char>(std::toupper(c)));
    v1::ComplianceStatus value;
    if (!v1::ComplianceStatus_Parse("COMPLIANCE_STATUS_" + upper, &value) ||
        value == v1::COMPLIANCE_STATUS_UNSPECIFIED) {
      return JsonError(call.request, http::status::bad_request,
                       "status must be compliant, non_compliant or unknown");
    }
    req.set_status(value);
  }
  req.set_failing_check(call.Query("check"));
  if (const std::string standing = call.Query("standing"); !standing.empty()) {
    std::string upper;
    for (char c : standing) upper.push_back(static_cast<char>(std::toupper(c)));
    v1::TerminalStanding value;
    if (!v1::TerminalStanding_Parse("TERMINAL_STANDING_" + upper, &value) ||
        value == v1::TERMINAL_STANDING_UNSPECIFIED) {
      return JsonError(call.request, http::status::bad_request,
                       "standing must be active, revoked or retired");
    }
    req.set_standing(value);
  }
  req.set_search(call.Query("q"));
  uint32_t size = kDefaultPageSize;
  if (const std::string s = call.Query("size"); !s.empty()) {
    const std::optional<uint32_t> n = SmallNumber(s, kMaxPageSize);
    if (!n || *n == 0) {
      return JsonError(call.request, http::status::bad_request,
                       "size must be a number from 1 to " + std::to_string(kMaxPageSize));
    }
    size = *n;
  }
  uint32_t page = 0;
  if (const std::string p = call.Query("page"); !p.empty()) {
    const std::optional<uint32_t> n = SmallNumber(p, kMaxPage);
    if (!n) return JsonError(call.request, http::status::bad_request, "page must be a number");
    page = *n;
  }
  const uint64_t offset = uint64_t{page} * size;
  req.set_limit(size);
  req.set_offset(offset > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(offset));
  v1::ListTerminalsResponse resp;
  if (Status s = queries.ListTerminals(req, &resp); !s.ok()) {
    return FromError(call.request, s.error());
  }
  return JsonMessage(call.request, resp);
}

}  // namespace

std::optional<HttpResponse> HandleTerminalsApi(const ApiCall& call, const AdminQueries& queries) {
  constexpr std::string_view kPrefix = "/api/terminals/";
  const bool list = call.path == "/api/terminals";
  const bool one = call.path.starts_with(kPrefix) && call.path.size() > kPrefix.size();
  if (!list && !one) return std::nullopt;
  if (!call.is_get) return JsonError(call.request, http::status::method_not_allowed, "use GET");
  if (!call.Allows(Role::kViewer)) return call.Forbidden();
  if (list) return List(call, queries);
  v1::GetTerminalRequest req;
  req.set_terminal_id(PercentDecode(call.path.substr(kPrefix.size())));
  v1::TerminalDetail resp;
  if (Status s = queries.GetTerminal(req, &resp); !s.ok()) {
    return FromError(call.request, s.error());
  }
  return JsonMessage(call.request, resp);
}

}  // namespace mamori::web
