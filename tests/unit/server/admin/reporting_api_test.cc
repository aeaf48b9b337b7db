// The dashboard's events, policies and trend areas through WebHandler, on a
// real SQLite store: role checks (a viewer cannot dry-run or apply, and
// nothing is stored), the apply path recording "web:<user>", the CSV export
// and its filters, event paging, and the daily compliance records.

#include <gtest/gtest.h>

#include <atomic>

#include "common/base/csv.h"
#include "common/base/jst_time.h"
#include "common/policy/policy_signing.h"
#include "server/accounts/auth.h"
#include "server/accounts/totp.h"
#include "server/admin/admin_queries.h"
#include "server/policy/policy_hub.h"
#include "server/web/http_handler.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/server/web/web_test_support.h"

namespace mamori::web {
namespace {

namespace http = boost::beast::http;

// 2026-04-01T12:00:00+09:00.
constexpr int64_t kNoonApril1 = 1'775'012'400'000;

constexpr char kPolicyA[] =
    "name: office\nrules:\n  - name: keyboards\n    match: {class: hid}\n    action: allow\n";
constexpr char kPolicyB[] =
    "name: office-v2\nrules:\n  - name: keyboards\n    match: {class: hid}\n    action: allow\n"
    "  - name: sticks\n    match: {class: mass_storage}\n    action: block\n";

Device Stick(std::string serial, std::string product) {
  Device d;
  d.device_id = "1-2";
  d.identity.vendor_id = 0x0781;
  d.identity.product_id = 0x5581;
  d.identity.serial = std::move(serial);
  d.identity.manufacturer = "SanDisk";
  d.identity.product = std::move(product);
  d.identity.bus_path = "1-2";
  d.identity.device_class = DeviceClass::kMassStorage;
  d.identity.interface_classes = {DeviceClass::kMassStorage};
  d.decision.action = Action::kBlock;
  d.decision.matched_rule = "sticks";
  d.decision.enforced = true;
  return d;
}

Event Blocked(uint64_t seq, int64_t time_ms, Device device) {
  Event e;
  e.seq = seq;
  e.time_ms = time_ms;
  e.kind = EventKind::kDeviceBlocked;
  e.severity = Severity::kAlert;
  e.device = std::move(device);
  e.detail = "block by rule 'sticks'";
  e.user = "yamada";
  return e;
}

class ReportingApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("web.db"), SqliteOptions{});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    auth_ = std::make_unique<AuthService>(store_.get(), &clock_, AuthConfig{});
    hub_ = std::make_unique<PolicyHub>(store_.get(), &clock_, PolicySigningKey::Generate().value());
    ASSERT_TRUE(hub_->Load().ok());
    queries_ =
        std::make_unique<AdminQueries>(store_.get(), hub_.get(), &clock_, ComplianceConfig{});
    handler_ = std::make_unique<WebHandler>(auth_.get(), queries_.get());
  }

  HttpResponse Send(http::verb verb, const std::string& target, const std::string& cookie = "",
                    const std::string& csrf = "", const std::string& body = "") {
    return handler_->Handle(ApiRequest(verb, target, cookie, csrf, body));
  }

  struct Login {
    std::string token;
    std::string csrf;
  };
  Login LoginAs(const std::string& name, Role role) {
    auto creds = auth_->AddUser(name, role);
    EXPECT_TRUE(creds.ok());
    const auto start = creds->otpauth_uri.find("secret=") + 7;
    const std::string secret =
        Base32Decode(creds->otpauth_uri.substr(start, creds->otpauth_uri.find('&', start) - start))
            .value();
    auto res = Send(http::verb::post, "/api/login", "", "",
                    LoginBody(name, creds->password, TotpCode(secret, clock_.NowMs() / 1000)));
    EXPECT_EQ(res.result(), http::status::ok) << res.body();
    auto [token, csrf] = SessionOf(res);
    return {token, csrf};
  }

  static std::string ApplyBody(const std::string& group, const std::string& yaml) {
    return "{\"group\":" + JsonEscape(group) + ",\"policyYaml\":" + JsonEscape(yaml) + "}";
  }

  void AddTerminal(const std::string& id, const std::string& group) {
    TerminalState t;
    t.terminal_id = id;
    t.group = group;
    t.hostname = "PC-" + id;
    t.last_report_ms = clock_.NowMs();
    t.agent_time_ms = clock_.NowMs();
    t.report_interval_s = 60;
    t.enforcement.mode = EnforcementMode::kEnforce;
    t.enforcement.healthy = true;
    ASSERT_TRUE(store_->PutTerminalState(t).ok());
  }

  testing::TempDir dir_;
  SettableClock clock_{kNoonApril1};
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<PolicyHub> hub_;
  std::unique_ptr<AdminQueries> queries_;
  std::unique_ptr<WebHandler> handler_;
};

TEST_F(ReportingApiTest, ViewerCannotDryRunOrApplyAndNothingIsStored) {
  const Login viewer = LoginAs("vera", Role::kViewer);
  for (const char* path : {"/api/policies/apply", "/api/policies/dry-run"}) {
    auto res =
        Send(http::verb::post, path, viewer.token, viewer.csrf, ApplyBody("osaka/suita", kPolicyA));
    EXPECT_EQ(res.result(), http::status::forbidden) << path << " " << res.body();
  }
  auto history = store_->PolicyHistory("osaka/suita");
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->empty());
  EXPECT_FALSE(hub_->Resolve("osaka/suita").has_value());
  // Reading is allowed.
  EXPECT_EQ(Send(http::verb::get, "/api/policies?group=osaka/suita", viewer.token).result(),
            http::status::ok);
  EXPECT_EQ(
      Send(http::verb::get, "/api/policies/history?group=osaka%2Fsuita", viewer.token).result(),
      http::status::ok);
}

TEST_F(ReportingApiTest, OperatorAppliesThroughTheSharedPathAndSeesHistoryAndDiff) {
  const Login op = LoginAs("oscar", Role::kOperator);
  // Without the CSRF token the apply is refused before anything else.
  EXPECT_EQ(
      Send(http::verb::post, "/api/policies/apply", op.token, "", ApplyBody("osaka", kPolicyA))
          .result(),
      http::status::forbidden);

  auto first = Send(http::verb::post, "/api/policies/apply", op.token, op.csrf,
                    ApplyBody("osaka", kPolicyA));
  ASSERT_EQ(first.result(), http::status::ok) << first.body();
  auto stored = store_->GetPolicy("osaka", 0);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->applied_by, "web:oscar");
  EXPECT_EQ((*stored)->policy_yaml, kPolicyA);
  // Signed like every applied version, and in force for the hub.
  EXPECT_FALSE((*stored)->signature.empty());
  ASSERT_TRUE(hub_->Resolve("osaka/suita").has_value());
  EXPECT_EQ(hub_->Resolve("osaka/suita")->stored.version, (*stored)->version);
  EXPECT_NE(first.body().find("\"version\":\"" + std::to_string((*stored)->version) + "\""),
            std::string::npos)
      << first.body();

  // A dry run of the second version stores nothing and shows the diff.
  auto dry = Send(http::verb::post, "/api/policies/dry-run", op.token, op.csrf,
                  ApplyBody("osaka", kPolicyB));
  ASSERT_EQ(dry.result(), http::status::ok) << dry.body();
  EXPECT_NE(dry.body().find("+  - name: sticks"), std::string::npos) << dry.body();
  EXPECT_EQ(store_->PolicyHistory("osaka")->size(), 1u);

  auto second = Send(http::verb::post, "/api/policies/apply", op.token, op.csrf,
                     ApplyBody("osaka", kPolicyB));
  ASSERT_EQ(second.result(), http::status::ok) << second.body();
  auto history = Send(http::verb::get, "/api/policies/history?group=osaka", op.token);
  EXPECT_NE(history.body().find("\"policyName\":\"office-v2\""), std::string::npos)
      << history.body();
  EXPECT_NE(history.body().find("\"appliedBy\":\"web:oscar\""), std::string::npos);
  const uint64_t latest = (*store_->GetPolicy("osaka", 0))->version;
  auto diff = Send(http::verb::get, "/api/policies/diff?group=osaka&to=" + std::to_string(latest),
                   op.token);
  ASSERT_EQ(diff.result(), http::status::ok) << diff.body();
  EXPECT_NE(diff.body().find("-name: office\\n"), std::string::npos) << diff.body();
  EXPECT_NE(diff.body().find("+name: office-v2"), std::string::npos) << diff.body();
  // Inherited view for a subgroup names the source group.
  auto inherited = Send(http::verb::get, "/api/policies?group=osaka/suita", op.token);
  EXPECT_NE(inherited.body().find("\"inherited\":true"), std::string::npos) << inherited.body();
  EXPECT_NE(inherited.body().find("\"group\":\"osaka\""), std::string::npos);
}

TEST_F(ReportingApiTest, InvalidPolicyIsRefusedWithLineAndColumn) {
  const Login admin = LoginAs("ada", Role::kAdmin);
  auto res = Send(http::verb::post, "/api/policies/dry-run", admin.token, admin.csrf,
                  ApplyBody("osaka", "name: x\nrules:\n  - name: r\n    action: explode\n"));
  EXPECT_EQ(res.result(), http::status::bad_request) << res.body();
  EXPECT_NE(res.body().find("dashboard:4:"), std::string::npos) << res.body();
  EXPECT_TRUE(store_->PolicyHistory("osaka")->empty());
  EXPECT_EQ(
      Send(http::verb::post, "/api/policies/apply", admin.token, admin.csrf, "not json").result(),
      http::status::bad_request);
}

TEST_F(ReportingApiTest, EventsFilterPageAndExportAsCsv) {
  AddTerminal("t-1", "osaka/suita");
  AddTerminal("t-2", "kyoto");
  const Login op = LoginAs("oscar", Role::kOperator);
  ASSERT_EQ(
      Send(http::verb::post, "/api/policies/apply", op.token, op.csrf, ApplyBody("osaka", kPolicyB))
          .result(),
      http::status::ok);
  const uint64_t version = (*store_->GetPolicy("osaka", 0))->version;
  const int64_t t0 = clock_.NowMs() + 1000;
  std::vector<Event> events;
  for (uint64_t i = 1; i <= 5; ++i) {
    events.push_back(
        Blocked(i, t0 + static_cast<int64_t>(i) * 1000, Stick("S" + std::to_string(i), "Cruzer")));
  }
  events.push_back(Blocked(6, t0 + 6000, Stick("=HYPERLINK(\"http://evil\")", "<b>x</b>")));
  Event started;
  started.seq = 7;
  started.time_ms = t0 + 7000;
  started.kind = EventKind::kAgentStarted;
  events.push_back(started);
  ASSERT_TRUE(store_->AppendEvents("t-1", events, t0 + 8000).ok());
  ASSERT_TRUE(store_->AppendEvents("t-2", {Blocked(1, t0, Stick("K1", "Kyoto stick"))}, t0).ok());

  const Login viewer = LoginAs("vera", Role::kViewer);
  // Default kinds: blocked and failures only, newest first, with group and
  // policy version.
  auto page = Send(http::verb::get, "/api/events?group=osaka&limit=4", viewer.token);
  ASSERT_EQ(page.result(), http::status::ok) << page.body();
  EXPECT_EQ(page.body().find("AGENT_STARTED"), std::string::npos);
  EXPECT_EQ(page.body().find("K1"), std::string::npos);
  EXPECT_NE(page.body().find("\"group\":\"osaka/suita\""), std::string::npos);
  EXPECT_NE(page.body().find("\"policyVersion\":\"" + std::to_string(version) + "\""),
            std::string::npos)
      << page.body();
  const auto cursor_at = page.body().find("\"nextCursor\":\"");
  ASSERT_NE(cursor_at, std::string::npos) << page.body();
  const std::string cursor =
      page.body().substr(cursor_at + 14, page.body().find('"', cursor_at + 14) - cursor_at - 14);
  auto next =
      Send(http::verb::get, "/api/events?group=osaka&limit=4&cursor=" + cursor, viewer.token);
  ASSERT_EQ(next.result(), http::status::ok) << next.body();
  EXPECT_NE(next.body().find("\"S2\""), std::string::npos) << next.body();
  EXPECT_NE(next.body().find("\"S1\""), std::string::npos);
  EXPECT_EQ(next.body().find("\"S3\""), std::string::npos);
  EXPECT_EQ(next.body().find("nextCursor\":\"0"), std::string::npos);

  // Text search over device strings; bad filters are 400.
  auto found = Send(http::verb::get, "/api/events?kind=all&q=kyoto", viewer.token);
  EXPECT_NE(found.body().find("\"K1\""), std::string::npos) << found.body();
  EXPECT_EQ(found.body().find("\"S1\""), std::string::npos);
  EXPECT_EQ(Send(http::verb::get, "/api/events?kind=bogus", viewer.token).result(),
            http::status::bad_request);
  EXPECT_EQ(Send(http::verb::get, "/api/events?from=yesterday", viewer.token).result(),
            http::status::bad_request);
  EXPECT_EQ(Send(http::verb::get, "/api/events?limit=501", viewer.token).result(),
            http::status::bad_request);
  EXPECT_EQ(Send(http::verb::get, "/api/events?cursor=garbage", viewer.token).result(),
            http::status::bad_request);

  // The CSV: BOM, header, one row per event, JST times, inert hostile cells.
  auto csv = Send(http::verb::get, "/api/events.csv?terminal=t-1&from=2026-04-01&to=2026-04-01",
                  viewer.token);
  ASSERT_EQ(csv.result(), http::status::ok) << csv.body();
  EXPECT_EQ(csv[http::field::content_type], "text/csv; charset=utf-8");
  EXPECT_NE(std::string(csv[http::field::content_disposition]).find("attachment"),
            std::string::npos);
  const std::string& body = csv.body();
  ASSERT_TRUE(body.starts_with(kUtf8Bom));
  EXPECT_TRUE(body.substr(3).starts_with("\"time (JST)\",\"terminal\",\"group\",\"user\""));
  std::size_t lines = 0;
  for (char c : body) lines += c == '\n';
  EXPECT_EQ(lines, 7u);  // header + 6 blocked events of t-1
  EXPECT_NE(body.find("\"" + JstIso8601(t0 + 1000) +
                      "\",\"t-1\",\"osaka/suita\",\"yamada\","
                      "\"device_blocked\",\"block\",\"0781:5581\",\"SanDisk\",\"Cruzer\",\"S1\","
                      "\"sticks\",\"" +
                      std::to_string(version) + "\""),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("\"'=HYPERLINK(\"\"http://evil\"\")\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"<b>x</b>\""), std::string::npos);
  // Japanese header on request; a day range that excludes the events.
  auto ja = Send(http::verb::get, "/api/events.csv?lang=ja&from=2026-04-02", viewer.token);
  EXPECT_TRUE(ja.body().substr(3).starts_with("\"日時(JST)\",\"端末\"")) << ja.body();
  EXPECT_EQ(ja.body().find("yamada"), std::string::npos);
  // Anonymous callers get nothing.
  EXPECT_EQ(Send(http::verb::get, "/api/events.csv").result(), http::status::unauthorized);
}

TEST_F(ReportingApiTest, DailyRecordsFeedTheTrend) {
  AddTerminal("t-1", "osaka/suita");
  AddTerminal("t-2", "osaka/suita");
  ASSERT_TRUE(queries_->RecordComplianceSnapshot().ok());
  // Recording again the same day replaces the day's row.
  ASSERT_TRUE(queries_->RecordComplianceSnapshot().ok());
  // The next day, t-2 has gone silent: stale.
  clock_.now_ms += kDayMs;
  AddTerminal("t-1", "osaka/suita");
  ASSERT_TRUE(queries_->RecordComplianceSnapshot().ok());

  auto rows = store_->ComplianceSnapshots("osaka", "2026-04-01", "2026-04-02");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].date, "2026-04-01");
  EXPECT_EQ((*rows)[0].terminals, 2u);
  EXPECT_EQ((*rows)[0].stale, 0u);
  EXPECT_EQ((*rows)[1].date, "2026-04-02");
  EXPECT_EQ((*rows)[1].terminals, 2u);
  EXPECT_EQ((*rows)[1].stale, 1u);
  EXPECT_EQ((*rows)[1].non_compliant + (*rows)[1].compliant + (*rows)[1].unknown, 2u);

  const Login viewer = LoginAs("vera", Role::kViewer);
  auto trend = Send(http::verb::get, "/api/trend?group=osaka/suita&days=7", viewer.token);
  ASSERT_EQ(trend.result(), http::status::ok) << trend.body();
  const auto first = trend.body().find("\"date\":\"2026-04-01\"");
  const auto second = trend.body().find("\"date\":\"2026-04-02\"");
  ASSERT_NE(first, std::string::npos) << trend.body();
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_NE(trend.body().find("\"stale\":1"), std::string::npos);
  // Only today counts with days=1, and today is as of now, not as of the
  // last record.
  AddTerminal("t-3", "osaka/suita");
  auto today = Send(http::verb::get, "/api/trend?group=osaka/suita&days=1", viewer.token);
  EXPECT_EQ(today.body().find("2026-04-01"), std::string::npos) << today.body();
  EXPECT_NE(today.body().find("\"terminals\":3"), std::string::npos) << today.body();
  EXPECT_EQ(store_->ComplianceSnapshots("osaka/suita", "2026-04-02", "2026-04-02")->at(0).terminals,
            2u);
  // A group nobody reported from still gets today's (empty) row.
  auto empty = Send(http::verb::get, "/api/trend?group=nara", viewer.token);
  EXPECT_NE(empty.body().find("\"date\":\"2026-04-02\",\"group\":\"nara\",\"terminals\":0"),
            std::string::npos)
      << empty.body();
  EXPECT_EQ(Send(http::verb::get, "/api/trend?days=367", viewer.token).result(),
            http::status::bad_request);
  EXPECT_EQ(Send(http::verb::get, "/api/trend?days=x", viewer.token).result(),
            http::status::bad_request);
}

TEST_F(ReportingApiTest, SnapshotRowsUpsertAndReadBackInDateOrder) {
  std::vector<ComplianceSnapshot> rows = {
      {"2026-04-03", "kyoto", 5, 3, 1, 1, 1, 300},
      {"2026-04-01", "kyoto", 4, 4, 0, 0, 0, 100},
      {"2026-04-02", "osaka", 9, 9, 0, 0, 0, 200},
  };
  ASSERT_TRUE(store_->PutComplianceSnapshots(rows).ok());
  ASSERT_TRUE(store_->PutComplianceSnapshots({{"2026-04-01", "kyoto", 6, 5, 1, 0, 1, 150}}).ok());
  auto kyoto = store_->ComplianceSnapshots("kyoto", "2026-04-01", "2026-04-30");
  ASSERT_TRUE(kyoto.ok());
  ASSERT_EQ(kyoto->size(), 2u);
  EXPECT_EQ((*kyoto)[0].date, "2026-04-01");
  EXPECT_EQ((*kyoto)[0].terminals, 6u);
  EXPECT_EQ((*kyoto)[0].stale, 1u);
  EXPECT_EQ((*kyoto)[0].recorded_at_ms, 150);
  EXPECT_EQ((*kyoto)[1].date, "2026-04-03");
  EXPECT_EQ((*kyoto)[1].non_compliant, 1u);
  auto window = store_->ComplianceSnapshots("kyoto", "2026-04-02", "2026-04-02");
  EXPECT_TRUE(window->empty());
}

}  // namespace
}  // namespace mamori::web
