#include "server/web/api_exceptions.h"

#include <boost/beast/http/status.hpp>
#include <string>

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kPrefix = "/api/exceptions";

std::optional<uint64_t> ParseId(std::string_view text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != text.npos) {
    return std::nullopt;
  }
  return std::stoull(std::string(text));
}

HttpResponse Denied(const ApiCall& call, std::string_view action, std::string_view target) {
  call.Audit(action, target, "role " + std::string(RoleName(call.session.role)),
             AuditOutcome::kDenied);
  return call.Forbidden();
}

HttpResponse Answer(const ApiCall& call, const Status& s, const google::protobuf::Message& m) {
  if (!s.ok()) return FromError(call.request, s.error());
  return JsonMessage(call.request, m);
}

}  // namespace

std::optional<HttpResponse> HandleExceptionsApi(const ApiCall& call,
                                                ExceptionWorkflow* exceptions) {
  if (call.path != kPrefix &&
      !(call.path.starts_with(kPrefix) && call.path[kPrefix.size()] == '/')) {
    return std::nullopt;
  }
  if (exceptions == nullptr) {
    return JsonError(call.request, http::status::service_unavailable, "no exception workflow");
  }
  const std::string_view rest = call.path.substr(kPrefix.size());
  if (rest.empty() && call.is_get) {
    if (!call.Allows(Role::kViewer)) return call.Forbidden();
    v1::ListExceptionsRequest req;
    req.set_terminal_id(call.Query("terminal"));
    if (std::string state = call.Query("state"); !state.empty()) req.add_states(state);
    v1::ListExceptionsResponse resp;
    return Answer(call, exceptions->List(req, &resp), resp);
  }
  if (rest.empty() && call.is_post) {
    if (!call.Allows(Role::kOperator)) return Denied(call, "exception.request", "");
    v1::RequestExceptionRequest req;
    if (auto bad = ParseJsonBody(call, &req)) return std::move(*bad);
    v1::ExceptionChangeResponse resp;
    return Answer(call, exceptions->Request(call.Actor(), req, &resp), resp);
  }
  // /ID/approve, /ID/refuse, /ID/cancel
  if (call.is_post && rest.size() > 1 && rest.front() == '/') {
    const std::string_view tail = rest.substr(1);
    const auto slash = tail.find('/');
    if (slash != std::string_view::npos) {
      const std::string_view verb = tail.substr(slash + 1);
      const auto id = ParseId(tail.substr(0, slash));
      const std::string target =
          "EX-" + std::string(tail.substr(0, std::min<std::size_t>(slash, 20)));
      if (verb == "approve" || verb == "refuse" || verb == "cancel") {
        const std::string action = "exception." + std::string(verb);
        const Role needed = verb == "cancel" ? Role::kOperator : Role::kAdmin;
        if (!call.Allows(needed)) return Denied(call, action, target);
        if (!id) return JsonError(call.request, http::status::not_found, "no such exception");
        v1::DecideExceptionRequest req;
        if (auto bad = ParseJsonBody(call, &req)) return std::move(*bad);
        req.set_id(*id);  // the path names it
        v1::ExceptionChangeResponse resp;
        Status s;
        if (verb == "approve") {
          s = exceptions->Approve(call.Actor(), req, &resp);
        } else if (verb == "refuse") {
          s = exceptions->Refuse(call.Actor(), req, &resp);
        } else {
          s = exceptions->Cancel(call.Actor(), call.Allows(Role::kAdmin), req, &resp);
        }
        return Answer(call, s, resp);
      }
    }
  }
  return JsonError(call.request, http::status::not_found, "no such API");
}

}  // namespace mamori::web
