#include "server/web/api_unlock.h"

#include <charconv>

namespace mamori::web {

namespace http = boost::beast::http;

std::optional<HttpResponse> HandleUnlockApi(const ApiCall& call, UnlockIssuer* unlock) {
  if (call.path != "/api/unlock-codes") return std::nullopt;
  if (!call.is_get) return JsonError(call.request, http::status::method_not_allowed, "use GET");
  // The codes are credentials until used or expired: admins only.
  if (!call.Allows(Role::kAdmin)) return call.Forbidden();
  if (unlock == nullptr) {
    return JsonError(call.request, http::status::service_unavailable,
                     "this collector issues no unlock codes (unlock.key_file)");
  }
  v1::ListUnlockCodesRequest req;
  req.set_terminal_id(call.Query("terminal"));
  if (const std::string limit = call.Query("limit"); !limit.empty()) {
    uint32_t n = 0;
    const auto [end, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), n);
    if (ec != std::errc() || end != limit.data() + limit.size() || n < 1 || n > 1000) {
      return JsonError(call.request, http::status::bad_request, "limit must be 1..1000");
    }
    req.set_limit(n);
  }
  v1::ListUnlockCodesResponse resp;
  if (Status s = unlock->List(req, &resp); !s.ok()) return FromError(call.request, s.error());
  return JsonMessage(call.request, resp);
}

}  // namespace mamori::web
