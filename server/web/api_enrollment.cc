#include "server/web/api_enrollment.h"

#include <charconv>

#include "server/enrollment/enrollment_service.h"

namespace mamori::web {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kTokens = "/api/enroll-tokens";
constexpr std::string_view kRevokeSuffix = "/revoke";

HttpResponse Create(const ApiCall& call, EnrollmentWorkflow* enrollment) {
  v1::CreateEnrollTokenRequest req;
  if (auto bad = ParseJsonBody(call, &req)) return *bad;
  TokenSpec spec;
  spec.group = req.group();
  spec.uses = req.uses() == 0 ? 1 : req.uses();
  spec.expires_in_ms =
      req.expires_in_seconds() == 0
          ? 7 * kDayMs
          : static_cast<int64_t>(std::min<uint64_t>(req.expires_in_seconds(), 1ULL << 40)) * 1000;
  spec.note = req.note();
  auto created = enrollment->CreateToken(call.Actor(), spec);
  if (!created) return FromError(call.request, created.error());
  v1::CreateEnrollTokenResponse out;
  ToProto(created->first, out.mutable_token());
  out.set_token_text(created->second);
  return JsonMessage(call.request, out);
}

}  // namespace

std::optional<HttpResponse> HandleEnrollmentApi(const ApiCall& call,
                                                EnrollmentWorkflow* enrollment) {
  const bool tokens = call.path == kTokens;
  const bool revoke = call.path.starts_with(std::string(kTokens) + "/") &&
                      call.path.ends_with(kRevokeSuffix) &&
                      call.path.size() > kTokens.size() + 1 + kRevokeSuffix.size();
  const bool enrollments = call.path == "/api/enrollments";
  if (!tokens && !revoke && !enrollments) return std::nullopt;
  if (enrollment == nullptr) {
    return JsonError(call.request, http::status::service_unavailable,
                     "enrollment is not configured on this collector (enrollment.issuing_ca_*)");
  }
  if (tokens && call.is_get) {
    auto list = enrollment->ListTokens();
    if (!list) return FromError(call.request, list.error());
    v1::ListEnrollTokensResponse out;
    for (const EnrollToken& t : *list) ToProto(t, out.add_tokens());
    return JsonMessage(call.request, out);
  }
  if (tokens && call.is_post) {
    if (!call.Allows(Role::kAdmin)) return call.Forbidden();
    return Create(call, enrollment);
  }
  if (revoke && call.is_post) {
    if (!call.Allows(Role::kAdmin)) return call.Forbidden();
    const std::string id = PercentDecode(call.path.substr(
        kTokens.size() + 1, call.path.size() - kTokens.size() - 1 - kRevokeSuffix.size()));
    if (Status s = enrollment->RevokeToken(call.Actor(), id); !s) {
      return FromError(call.request, s.error());
    }
    return JsonMessage(call.request, v1::RevokeEnrollTokenResponse());
  }
  if (enrollments && call.is_get) {
    uint32_t n = 100;
    if (const std::string limit = call.Query("limit"); !limit.empty()) {
      const auto [end, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), n);
      if (ec != std::errc() || end != limit.data() + limit.size() || n < 1 || n > 10'000) {
        return JsonError(call.request, http::status::bad_request, "limit must be 1..10000");
      }
    }
    auto list = enrollment->ListEnrollments(n);
    if (!list) return FromError(call.request, list.error());
    v1::ListEnrollmentsResponse out;
    for (const EnrollmentRecord& e : *list) ToProto(e, out.add_enrollments());
    return JsonMessage(call.request, out);
  }
  return JsonError(call.request, http::status::method_not_allowed,
                   revoke ? "use POST" : "use GET or POST");
}

}  // namespace mamori::web
