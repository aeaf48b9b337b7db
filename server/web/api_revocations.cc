#include "server/web/api_revocations.h"

#include "mamori/v1/admin.pb.h"
#include "server/revocation/revocation_wire.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

}  // namespace

std::optional<HttpResponse> HandleRevocationApi(const ApiCall& call,
                                                RevocationRegistry* revocations) {
  constexpr std::string_view kPrefix = "/api/terminals/";
  const bool list = call.path == "/api/revocations";
  bool retire = false;
  std::string_view id;
  if (!list) {
    if (!call.path.starts_with(kPrefix)) return std::nullopt;
    std::string_view rest = call.path.substr(kPrefix.size());
    const std::size_t slash = rest.rfind('/');
    if (slash == std::string_view::npos || slash == 0) return std::nullopt;
    const std::string_view verb = rest.substr(slash + 1);
    if (verb != "revoke" && verb != "retire") return std::nullopt;
    retire = verb == "retire";
    id = rest.substr(0, slash);
  }
  if (!call.Allows(Role::kAdmin)) return call.Forbidden();
  if (revocations == nullptr) {
    return JsonError(call.request, http::status::service_unavailable,
                     "this collector keeps no deny list");
  }
  if (list) {
    if (!call.is_get) return JsonError(call.request, http::status::method_not_allowed, "use GET");
    v1::ListRevocationsResponse resp;
    for (const RevocationRecord& r : revocations->List()) ToProto(r, resp.add_revocations());
    return JsonMessage(call.request, resp);
  }
  if (!call.is_post) return JsonError(call.request, http::status::method_not_allowed, "use POST");
  v1::RetireTerminalRequest body;  // {"reason": ...}; the id comes from the path
  if (auto bad = ParseJsonBody(call, &body)) return std::move(*bad);
  if (!body.terminal_id().empty()) {
    return JsonError(call.request, http::status::bad_request,
                     "the terminal is named by the path, not the body");
  }
  const std::string terminal = PercentDecode(id);
  auto outcome =
      retire ? revocations->Retire(terminal, body.reason(), call.Actor())
             : revocations->Revoke(PeerRole::kTerminal, terminal, "", body.reason(), call.Actor());
  if (!outcome.ok()) return FromError(call.request, outcome.error());
  v1::RevocationView view;
  ToProto(outcome->record, &view);
  view.set_streams_closed(static_cast<uint32_t>(outcome->streams_closed));
  return JsonMessage(call.request, view);
}

}  // namespace mamori::web
