#include "server/web/api_policies.h"

#include <google/protobuf/util/json_util.h>

#include <boost/beast/http/field.hpp>

#include "mamori/v1/admin.pb.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

std::optional<uint64_t> ParseVersion(const std::string& text) {
  if (text.empty()) return uint64_t{0};
  if (text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(text);
}

HttpResponse BadVersion(const ApiCall& call, std::string_view name) {
  return JsonError(call.request, http::status::bad_request,
                   std::string(name) + " must be a version number");
}

HttpResponse Change(const ApiCall& call, const AdminQueries& queries, bool dry_run) {
  if (!call.Allows(Role::kOperator)) return call.Forbidden();
  const auto type = call.request.find(http::field::content_type);
  if (type == call.request.end() || !Sv(type->value()).starts_with("application/json")) {
    return JsonError(call.request, http::status::unsupported_media_type,
                     "expected Content-Type: application/json");
  }
  v1::ApplyPolicyRequest req;
  if (!google::protobuf::util::JsonStringToMessage(call.request.body(), &req).ok()) {
    return JsonError(call.request, http::status::bad_request,
                     "body must be a JSON object with group and policyYaml");
  }
  // The path decides, not the body: a dry run never stores.
  req.set_dry_run(dry_run);
  if (req.source_name().empty()) req.set_source_name("dashboard");
  v1::ApplyPolicyResponse resp;
  if (Status s = queries.ApplyPolicy(req, "web:" + call.session.user, &resp); !s.ok()) {
    return FromError(call.request, s.error());
  }
  return JsonMessage(call.request, resp);
}

}  // namespace

std::optional<HttpResponse> HandlePoliciesApi(const ApiCall& call, const AdminQueries& queries) {
  if (call.path != "/api/policies" && !call.path.starts_with("/api/policies/")) {
    return std::nullopt;
  }
  if (call.is_post) {
    if (call.path == "/api/policies/dry-run") return Change(call, queries, true);
    if (call.path == "/api/policies/apply") return Change(call, queries, false);
    return JsonError(call.request, http::status::not_found, "no such API");
  }
  if (!call.Allows(Role::kViewer)) return call.Forbidden();
  const std::string group = call.Query("group");
  if (call.path == "/api/policies") {
    v1::GetPolicyRequest req;
    req.set_group(group);
    const std::optional<uint64_t> version = ParseVersion(call.Query("version"));
    if (!version) return BadVersion(call, "version");
    req.set_version(*version);
    v1::GetPolicyResponse resp;
    if (Status s = queries.GetPolicy(req, &resp); !s.ok())
      return FromError(call.request, s.error());
    return JsonMessage(call.request, resp);
  }
  if (call.path == "/api/policies/history") {
    v1::PolicyHistoryRequest req;
    req.set_group(group);
    v1::PolicyHistoryResponse resp;
    if (Status s = queries.PolicyHistory(req, &resp); !s.ok()) {
      return FromError(call.request, s.error());
    }
    return JsonMessage(call.request, resp);
  }
  if (call.path == "/api/policies/diff") {
    v1::PolicyDiffRequest req;
    req.set_group(group);
    const std::optional<uint64_t> to = ParseVersion(call.Query("to"));
    if (!to) return BadVersion(call, "to");
    const std::optional<uint64_t> from = ParseVersion(call.Query("from"));
    if (!from) return BadVersion(call, "from");
    req.set_to_version(*to);
    req.set_from_version(*from);
    v1::PolicyDiffResponse resp;
    if (Status s = queries.PolicyDiff(req, &resp); !s.ok())
      return FromError(call.request, s.error());
    return JsonMessage(call.request, resp);
  }
  return JsonError(call.request, http::status::not_found, "no such API");
}

}  // namespace mamori::web
