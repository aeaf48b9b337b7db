#include "server/web/api_trend.h"

#include "mamori/v1/admin.pb.h"

namespace mamori::web {

std::optional<HttpResponse> HandleTrendApi(const ApiCall& call, const AdminQueries& queries) {
  namespace http = boost::beast::http;
  if (call.path != "/api/trend") return std::nullopt;
  if (!call.is_get) return JsonError(call.request, http::status::method_not_allowed, "use GET");
  if (!call.Allows(Role::kViewer)) return call.Forbidden();
  v1::ComplianceTrendRequest req;
  req.set_group(call.Query("group"));
  if (const std::string days = call.Query("days"); !days.empty()) {
    if (days.size() > 3 || days.find_first_not_of("0123456789") != std::string::npos) {
      return JsonError(call.request, http::status::bad_request, "days must be a number up to 366");
    }
    req.set_days(static_cast<uint32_t>(std::stoul(days)));
  }
  v1::ComplianceTrendResponse resp;
  if (Status s = queries.ComplianceTrend(req, &resp); !s.ok()) {
    return FromError(call.request, s.error());
  }
  return JsonMessage(call.request, resp);
}

}  // namespace mamori::web
