#include "server/web/api_ledger.h"

#include <boost/beast/http/field.hpp>

#include "common/base/jst_time.h"
#include "proto/wire/convert.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kMediaPrefix = "/api/media";
constexpr std::string_view kRetireSuffix = "/retire";

// A change the session's role may not make: 403, and a "denied" record.
HttpResponse Denied(const ApiCall& call, std::string_view action, std::string_view target) {
  call.Audit(action, target, "role " + std::string(RoleName(call.session.role)),
             AuditOutcome::kDenied);
  return call.Forbidden();
}

std::optional<uint64_t> ParseId(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != text.npos) {
    return std::nullopt;
  }
  const uint64_t v = std::stoull(std::string(text));
  if (v > max) return std::nullopt;
  return v;
}

HttpResponse Media(const ApiCall& call, MediaLedger* ledger) {
  const std::string_view rest = call.path.substr(kMediaPrefix.size());
  if (rest.empty() && call.is_get) {
    if (!call.Allows(Role::kViewer)) return call.Forbidden();
    v1::ListMediaRequest req;
    req.set_include_retired(call.Query("retired") == "1");
    v1::ListMediaResponse resp;
    if (Status s = ledger->List(req, &resp); !s.ok()) return FromError(call.request, s.error());
    return JsonMessage(call.request, resp);
  }
  if (rest.empty() && call.is_post) {
    if (!call.Allows(Role::kOperator)) return Denied(call, audit::kLedgerAdd, "");
    v1::AddMediumRequest req;
    if (auto bad = ParseJsonBody(call, &req)) return std::move(*bad);
    v1::LedgerChangeResponse resp;
    if (Status s = ledger->Add(call.Actor(), req, &resp); !s.ok()) {
      return FromError(call.request, s.error());
    }
    return JsonMessage(call.request, resp);
  }
  if (rest == "/import" && call.is_post) {
    if (!call.Allows(Role::kOperator)) return Denied(call, audit::kLedgerImport, "csv");
    v1::ImportMediaRequest req;
    if (auto bad = ParseJsonBody(call, &req)) return std::move(*bad);
    v1::ImportMediaResponse resp;
    if (Status s = ledger->Import(call.Actor(), req, &resp); !s.ok()) {
      return FromError(call.request, s.error());
    }
    return JsonMessage(call.request, resp);
  }
  if (rest == "/export" && call.is_get) {
    if (!call.Allows(Role::kViewer)) return call.Forbidden();
    v1::ExportMediaResponse resp;
    if (Status s = ledger->Export({}, &resp); !s.ok()) return FromError(call.request, s.error());
    auto res = MakeResponse(call.request, http::status::ok, "text/csv; charset=utf-8",
                            std::move(*resp.mutable_csv()));
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::content_disposition, "attachment; filename=\"media-ledger.csv\"");
    return res;
  }
  if (rest == "/unregistered" && call.is_get) {
    if (!call.Allows(Role::kViewer)) return call.Forbidden();
    v1::UnregisteredDevicesRequest req;
    req.set_group(call.Query("group"));
    if (const std::string days = call.Query("days"); !days.empty()) {
      const auto n = ParseId(days, 366);
      if (!n) return JsonError(call.request, http::status::bad_request, "days must be 0..366");
      req.set_days(static_cast<uint32_t>(*n));
    }
    v1::UnregisteredDevicesResponse resp;
    if (Status s = ledger->Unregistered(req, &resp); !s.ok()) {
      return FromError(call.request, s.error());
    }
    return JsonMessage(call.request, resp);
  }
  if (rest.size() > kRetireSuffix.size() + 1 && rest.front() == '/' &&
      rest.ends_with(kRetireSuffix) && call.is_post) {
    const std::string_view id_text = rest.substr(1, rest.size() - 1 - kRetireSuffix.size());
    const std::string target = "#" + std::string(id_text.substr(0, 20));
    if (!call.Allows(Role::kOperator)) return Denied(call, audit::kLedgerRetire, target);
    const auto id = ParseId(id_text, static_cast<uint64_t>(INT64_MAX));
    if (!id) return JsonError(call.request, http::status::not_found, "no such ledger entry");
    v1::RetireMediumRequest req;
    if (auto bad = ParseJsonBody(call, &req)) return std::move(*bad);
    req.set_id(*id);  // the path names the entry
    v1::LedgerChangeResponse resp;
    if (Status s = ledger->Retire(call.Actor(), req, &resp); !s.ok()) {
      return FromError(call.request, s.error());
    }
    return JsonMessage(call.request, resp);
  }
  return JsonError(call.request, http::status::not_found, "no such API");
}

HttpResponse Audit(const ApiCall& call, const AuditTrail* audit) {
  if (!call.is_get) return JsonError(call.request, http::status::method_not_allowed, "use GET");
  if (!call.Allows(Role::kAdmin)) return call.Forbidden();
  v1::QueryAuditRequest req;
  req.set_actor(call.Query("actor"));
  req.set_action(call.Query("action"));
  if (const std::string since = call.Query("since"); !since.empty()) {
    const auto ms = ParseTimeOrJstDate(since);
    if (!ms) {
      return JsonError(call.request, http::status::bad_request,
                       "since must be YYYY-MM-DD (JST) or an RFC 3339 time");
    }
    SetMs(*ms, req.mutable_since());
  }
  if (const std::string until = call.Query("until"); !until.empty()) {
    auto ms = ParseTimeOrJstDate(until);
    if (!ms) {
      return JsonError(call.request, http::status::bad_request,
                       "until must be YYYY-MM-DD (JST) or an RFC 3339 time");
    }
    // A day given alone is included whole.
    if (until.size() == 10) *ms += kDayMs;
    SetMs(*ms, req.mutable_until());
  }
  if (const std::string before = call.Query("before"); !before.empty()) {
    const auto id = ParseId(before, static_cast<uint64_t>(INT64_MAX));
    if (!id) return JsonError(call.request, http::status::bad_request, "before must be an id");
    req.set_before_id(*id);
  }
  if (const std::string limit = call.Query("limit"); !limit.empty()) {
    const auto n = ParseId(limit, 1000);
    if (!n) return JsonError(call.request, http::status::bad_request, "limit must be 1..1000");
    req.set_limit(static_cast<uint32_t>(*n));
  }
  v1::QueryAuditResponse resp;
  if (Status s = audit->Query(req, &resp); !s.ok()) return FromError(call.request, s.error());
  return JsonMessage(call.request, resp);
}

}  // namespace

std::optional<HttpResponse> HandleLedgerApi(const ApiCall& call, MediaLedger* ledger,
                                            const AuditTrail* audit) {
  const bool media = call.path == kMediaPrefix ||
                     (call.path.starts_with(kMediaPrefix) && call.path[kMediaPrefix.size()] == '/');
  if (media) {
    if (ledger == nullptr) {
      return JsonError(call.request, http::status::service_unavailable, "no media ledger");
    }
    return Media(call, ledger);
  }
  if (call.path == "/api/audit") {
    if (audit == nullptr) {
      return JsonError(call.request, http::status::service_unavailable, "no audit log");
    }
    return Audit(call, audit);
  }
  return std::nullopt;
}

}  // namespace mamori::web
