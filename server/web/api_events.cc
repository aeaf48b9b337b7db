#include "server/web/api_events.h"

#include <boost/beast/http/field.hpp>
#include <cctype>

#include "common/base/csv.h"
#include "common/base/jst_time.h"
#include "common/device/event.h"
#include "mamori/v1/admin.pb.h"
#include "proto/wire/convert.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

constexpr uint32_t kDefaultPage = 100;
constexpr uint32_t kMaxPage = 500;
// An export reads this many rows at most (about 15 MB of CSV); a larger one
// is narrowed with the time range.
constexpr std::size_t kCsvRowCap = 50'000;

Result<v1::QueryEventsRequest> RequestFromQuery(const ApiCall& call) {
  v1::QueryEventsRequest req;
  req.set_group(call.Query("group"));
  req.set_terminal_id(call.Query("terminal"));
  const std::string kind = call.Query("kind");
  if (kind.empty() || kind == "problems") {
    req.add_kinds(v1::EVENT_KIND_DEVICE_BLOCKED);
    req.add_kinds(v1::EVENT_KIND_ENFORCEMENT_FAILURE);
  } else if (kind == "blocked") {
    req.add_kinds(v1::EVENT_KIND_DEVICE_BLOCKED);
  } else if (kind == "failure") {
    req.add_kinds(v1::EVENT_KIND_ENFORCEMENT_FAILURE);
  } else if (kind == "decisions") {
    for (v1::EventKind k : {v1::EVENT_KIND_DEVICE_ALLOWED, v1::EVENT_KIND_DEVICE_READ_ONLY,
                            v1::EVENT_KIND_DEVICE_BLOCKED, v1::EVENT_KIND_ENFORCEMENT_FAILURE}) {
      req.add_kinds(k);
    }
  } else if (kind != "all") {
    const std::optional<EventKind> parsed = ParseEventKind(kind);
    if (!parsed || *parsed == EventKind::kUnspecified) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "kind must be problems, blocked, failure, decisions, all or an event "
                       "kind such as device_removed");
    }
    req.add_kinds(ToProto(*parsed));
  }
  if (const std::string from = call.Query("from"); !from.empty()) {
    const std::optional<int64_t> ms = ParseTimeOrJstDate(from);
    if (!ms) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "from must be a date (YYYY-MM-DD, JST) or an RFC 3339 time");
    }
    SetMs(*ms, req.mutable_since());
  }
  if (const std::string to = call.Query("to"); !to.empty()) {
    std::optional<int64_t> ms = ParseTimeOrJstDate(to);
    if (!ms) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "to must be a date (YYYY-MM-DD, JST) or an RFC 3339 time");
    }
    // A date names a whole day: the range ends at the next midnight.
    if (to.size() == 10) *ms += kDayMs;
    SetMs(*ms, req.mutable_until());
  }
  req.set_text(call.Query("q"));
  req.set_cursor(call.Query("cursor"));
  uint32_t limit = kDefaultPage;
  if (const std::string l = call.Query("limit"); !l.empty()) {
    if (l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(l) == 0 || std::stoul(l) > kMaxPage) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "limit must be a number from 1 to " + std::to_string(kMaxPage));
    }
    limit = static_cast<uint32_t>(std::stoul(l));
  }
  req.set_limit(limit);
  return req;
}

// "EVENT_KIND_DEVICE_BLOCKED" -> "device_blocked".
std::string EnumTail(const std::string& name, std::string_view prefix) {
  std::string out = name.starts_with(prefix) ? name.substr(prefix.size()) : name;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> HeaderRow(bool japanese) {
  if (japanese) {
    return {"日時(JST)", "端末", "グループ", "ユーザー",       "種別",       "判定", "VID:PID",
            "製造元",    "製品", "シリアル", "一致したルール", "ポリシー版", "詳細"};
  }
  return {"time (JST)",   "terminal",       "group",        "user",    "kind",
          "action",       "vid:pid",        "manufacturer", "product", "serial",
          "matched rule", "policy version", "detail"};
}

std::vector<std::string> EventRow(const v1::EventView& e) {
  const v1::DeviceView& d = e.device();
  const bool has_device = e.has_device();
  return {
      JstIso8601(ToMs(e.time())),
      e.terminal_id(),
      e.group(),
      e.user(),
      EnumTail(v1::EventKind_Name(e.kind()), "EVENT_KIND_"),
      has_device ? EnumTail(v1::Action_Name(d.decision().action()), "ACTION_") : "",
      has_device ? d.vid_pid() : "",
      has_device ? d.manufacturer() : "",
      has_device ? d.product() : "",
      has_device ? d.serial() : "",
      has_device ? d.decision().matched_rule() : "",
      e.policy_version() == 0 ? "" : std::to_string(e.policy_version()),
      e.detail(),
  };
}

HttpResponse Csv(const ApiCall& call, const AdminQueries& queries, v1::QueryEventsRequest req) {
  const bool japanese = call.Query("lang") == "ja";
  req.set_limit(kMaxPage);
  req.clear_cursor();
  std::string body;
  CsvWriter csv(&body);
  csv.Row(HeaderRow(japanese));
  std::size_t rows = 0;
  bool capped = false;
  while (true) {
    v1::QueryEventsResponse page;
    if (Status s = queries.QueryEvents(req, &page); !s.ok())
      return FromError(call.request, s.error());
    for (const v1::EventView& e : page.events()) {
      if (rows == kCsvRowCap) {
        capped = true;
        break;
      }
      csv.Row(EventRow(e));
      ++rows;
    }
    if (capped || page.next_cursor().empty()) break;
    req.set_cursor(page.next_cursor());
  }
  if (capped) {
    csv.Row({japanese ? "# 上限 " + std::to_string(kCsvRowCap) +
                            " 行で打ち切りました。期間を絞って残りを出力してください。"
                      : "# capped at " + std::to_string(kCsvRowCap) +
                            " rows: narrow the time range to export the rest"});
  }
  WebLog()->info("'{}' exported {} event(s) as CSV{}", call.session.user, rows,
                 capped ? " (capped)" : "");
  auto res =
      MakeResponse(call.request, http::status::ok, "text/csv; charset=utf-8", std::move(body));
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::content_disposition, "attachment; filename=\"mamori-events.csv\"");
  if (capped) res.set("X-Mamori-Export-Capped", std::to_string(kCsvRowCap));
  return res;
}

}  // namespace

std::optional<HttpResponse> HandleEventsApi(const ApiCall& call, const AdminQueries& queries) {
  if (call.path != "/api/events" && call.path != "/api/events.csv") return std::nullopt;
  if (!call.is_get) return JsonError(call.request, http::status::method_not_allowed, "use GET");
  if (!call.Allows(Role::kViewer)) return call.Forbidden();
  auto req = RequestFromQuery(call);
  if (!req.ok()) return FromError(call.request, req.error());
  if (call.path == "/api/events.csv") return Csv(call, queries, std::move(req).value());
  v1::QueryEventsResponse resp;
  if (Status s = queries.QueryEvents(*req, &resp); !s.ok())
    return FromError(call.request, s.error());
  return JsonMessage(call.request, resp);
}

}  // namespace mamori::web
