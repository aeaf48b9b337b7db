#include "server/compliance/compliance_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/crypto/identity.h"
#include "common/policy/policy_signing.h"
#include "proto/wire/convert.h"
#include "server/admin/admin_queries.h"
#include "server/compliance/compliance_wire.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kStart = 1'743'498'000'000;  // 2025-04-01T09:00:00Z
constexpr int64_t kSecond = 1000;
constexpr int64_t kDay = 24 * 3600 * kSecond;

class FakeClock final : public Clock {
 public:
  int64_t NowMs() const override { return now_; }
  void Set(int64_t ms) { now_ = ms; }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  int64_t now_ = kStart;
};

Device Hid(std::string id) {
  Device d;
  d.device_id = std::move(id);
  d.identity.vendor_id = 0x046d;
  d.identity.product_id = 0xc31c;
  d.identity.device_class = DeviceClass::kHid;
  d.identity.interface_classes = {DeviceClass::kHid};
  d.decision.action = Action::kAllow;
  d.decision.matched_rule = "default";
  d.decision.enforced = true;
  return d;
}

Device Stick(std::string id, std::string serial, Action action, bool enforced = true) {
  Device d;
  d.device_id = std::move(id);
  d.identity.vendor_id = 0x0781;
  d.identity.product_id = 0x5581;
  d.identity.serial = std::move(serial);
  d.identity.device_class = DeviceClass::kMassStorage;
  d.identity.interface_classes = {DeviceClass::kMassStorage};
  d.decision.action = action;
  d.decision.matched_rule = "r";
  d.decision.enforced = enforced;
  return d;
}

TerminalState Terminal(std::string id, std::string group, int64_t reported_at) {
  TerminalState t;
  t.terminal_id = std::move(id);
  t.group = std::move(group);
  t.hostname = "PC-" + t.terminal_id;
  t.last_report_ms = reported_at;
  t.agent_time_ms = reported_at;
  t.report_interval_s = 60;
  t.applied_policy_version = 0;  // tests that assign a policy set it
  t.enforcement.mode = EnforcementMode::kEnforce;
  t.enforcement.healthy = true;
  t.enforcement.backend = "test";
  t.devices = {Hid("1-1")};
  return t;
}

// Allows registered media (the ledger below) and blocks other storage.
std::shared_ptr<const Policy> LedgerPolicy(std::vector<RegisteredMedium> media) {
  Policy p;
  p.name = "ledger";
  p.default_storage_action = Action::kBlock;
  Rule r;
  r.name = "registered";
  r.match.registered_media = true;
  r.action = Action::kAllow;
  p.rules.push_back(r);
  p.registered_media = std::move(media);
  return std::make_shared<const Policy>(std::move(p));
}

RegisteredMedium Medium(std::string serial, int64_t expires_ms) {
  RegisteredMedium m;
  m.serial = std::move(serial);
  m.vendor_id = 0x0781;
  m.product_id = 0x5581;
  m.expires_ms = expires_ms;
  return m;
}

class ComplianceIndexTest : public ::testing::Test {
 protected:
  ComplianceIndexTest()
      : index_([this](std::string_view group) { return AssignedTo(group); }, &clock_, config_) {}

  // Nearest ancestor with an assignment, as PolicyHub resolves.
  PolicyHub::Assigned AssignedTo(std::string_view group) const {
    std::string g(group);
    while (true) {
      if (auto it = assigned_.find(g); it != assigned_.end()) return it->second;
      if (g.empty()) return {};
      const auto slash = g.rfind('/');
      g = slash == std::string::npos ? "" : g.substr(0, slash);
    }
  }

  // What EvaluateCompliance says for `state` now.
  TerminalCompliance Expected(const TerminalState& state) const {
    const PolicyHub::Assigned a = AssignedTo(state.group);
    return EvaluateCompliance(state, a.policy.get(), a.version, clock_.NowMs(), config_);
  }

  TerminalRow Row(const std::string& id) const {
    TerminalFilter f;
    f.search = id;
    for (TerminalRow& row : index_.List(f).rows) {
      if (row.terminal_id == id) return row;
    }
    ADD_FAILURE() << "no row for " << id;
    return {};
  }

  // Every terminal's row agrees with a full evaluation of its snapshot.
  void ExpectAgreement(const std::map<std::string, TerminalState>& states) const {
    TerminalFilter all;
    all.limit = 100000;
    const TerminalPage page = index_.List(all);
    ASSERT_EQ(page.total, states.size());
    ASSERT_EQ(page.rows.size(), states.size());
    for (const TerminalRow& row : page.rows) {
      const TerminalState& state = states.at(row.terminal_id);
      const TerminalCompliance want = Expected(state);
      EXPECT_EQ(row.status, want.status) << row.terminal_id << " at " << clock_.NowMs();
      EXPECT_EQ(row.failing_checks, want.FailingChecks()) << row.terminal_id;
      EXPECT_EQ(row.assigned_policy_version, AssignedTo(state.group).version);
      EXPECT_EQ(row.group, state.group);
      EXPECT_EQ(row.hostname, state.hostname);
      EXPECT_EQ(row.last_report_ms, state.last_report_ms);
    }
  }

  FakeClock clock_;
  ComplianceConfig config_;
  std::map<std::string, PolicyHub::Assigned> assigned_;
  ComplianceIndex index_;
};

TEST_F(ComplianceIndexTest, ReportingGoesStaleAfterThreeIntervalsAndRecoversWithAReport) {
  index_.OnReportStored(Terminal("t1", "osaka/suita", kStart));
  EXPECT_EQ(Row("t1").status, ComplianceStatus::kCompliant);

  clock_.Set(kStart + 180 * kSecond);  // exactly three intervals: still current
  EXPECT_EQ(Row("t1").status, ComplianceStatus::kCompliant);
  auto counts = index_.Summaries();
  ASSERT_FALSE(counts.empty());
  EXPECT_EQ(counts[0].group, "");
  EXPECT_EQ(counts[0].stale, 0u);

  clock_.Advance(1);
  EXPECT_EQ(Row("t1").status, ComplianceStatus::kNonCompliant);
  EXPECT_THAT(Row("t1").failing_checks, ElementsAre("reporting"));
  counts = index_.Summaries();
  EXPECT_EQ(counts[0].stale, 1u);
  EXPECT_EQ(counts[0].non_compliant, 1u);

  index_.OnReportStored(Terminal("t1", "osaka/suita", clock_.NowMs()));
  EXPECT_EQ(Row("t1").status, ComplianceStatus::kCompliant);
  EXPECT_EQ(index_.Summaries()[0].stale, 0u);
}

TEST_F(ComplianceIndexTest, AgentIntervalAndConfiguredDefaultSetTheLimit) {
  TerminalState fast = Terminal("fast", "g", kStart);
  fast.report_interval_s = 10;
  TerminalState silent_default = Terminal("default", "g", kStart);
  silent_default.report_interval_s = 0;  // uses the configured 60 s
  index_.OnReportStored(fast);
  index_.OnReportStored(silent_default);
  clock_.Set(kStart + 31 * kSecond);
  EXPECT_THAT(Row("fast").failing_checks, ElementsAre("reporting"));
  EXPECT_THAT(Row("default").failing_checks, IsEmpty());
  clock_.Set(kStart + 181 * kSecond);
  EXPECT_THAT(Row("default").failing_checks, ElementsAre("reporting"));
}

TEST_F(ComplianceIndexTest, PolicyChangesRejudgePolicyCurrentAndStorage) {
  assigned_[""] = {LedgerPolicy({Medium("OK1", 0)}), 1};
  TerminalState t = Terminal("t1", "kyoto/ukyo", kStart);
  t.applied_policy_version = 1;
  t.devices.push_back(Stick("1-2", "OK1", Action::kAllow));
  index_.OnReportStored(t);
  EXPECT_EQ(Row("t1").status, ComplianceStatus::kCompliant);

  // A new version without the medium: the agent is behind, and the stick
  // it still allows is no longer approved.
  assigned_[""] = {LedgerPolicy({}), 2};
  EXPECT_THAT(Row("t1").failing_checks, ElementsAre("policy_current", "no_unapproved_storage"));
  EXPECT_EQ(Row("t1").assigned_policy_version, 2u);
  ExpectAgreement({{"t1", t}});

  // A group policy of its own re-registers it.
  assigned_["kyoto"] = {LedgerPolicy({Medium("OK1", 0)}), 3};
  t.applied_policy_version = 3;
  index_.OnReportStored(t);
  EXPECT_EQ(Row("t1").status, ComplianceStatus::kCompliant);
  ExpectAgreement({{"t1", t}});
}

TEST_F(ComplianceIndexTest, RegisteredMediumExpiryIsSeenWithoutANewReport) {
  const int64_t expiry = kStart + 2 * kDay;
  assigned_[""] = {LedgerPolicy({Medium("OK1", expiry), Medium("OTHER", kStart + 5 * kDay)}), 1};
  TerminalState t = Terminal("t1", "g", kStart);
  t.report_interval_s = 86400;  // stays current for three days
  t.applied_policy_version = 1;
  t.devices.push_back(Stick("1-2", "OK1", Action::kAllow));
  index_.OnReportStored(t);

  clock_.Set(expiry);
  EXPECT_EQ(Row("t1").status, ComplianceStatus::kCompliant);
  clock_.Set(expiry + 1);
  EXPECT_THAT(Row("t1").failing_checks, ElementsAre("no_unapproved_storage"));
  ExpectAgreement({{"t1", t}});
  // The clock set back (an operator fixing it) brings the verdict back too.
  clock_.Set(expiry - kDay);
  EXPECT_EQ(Row("t1").status, ComplianceStatus::kCompliant);
  ExpectAgreement({{"t1", t}});
}

TEST_F(ComplianceIndexTest, AgreesWithFullEvaluationOverRandomFleetAndTimes) {
  std::mt19937 rng(7);
  const int64_t expiry = kStart + 3 * kSecond * 60;
  assigned_[""] = {LedgerPolicy({Medium("REG", expiry), Medium("FOREVER", 0)}), 4};
  assigned_["b/x"] = {LedgerPolicy({Medium("FOREVER", 0)}), 6};
  const std::vector<std::string> groups = {"a", "a/y", "b", "b/x", "b/x/z", ""};
  std::map<std::string, TerminalState> states;
  for (int i = 0; i < 300; ++i) {
    TerminalState t = Terminal("t" + std::to_string(i), groups[rng() % groups.size()],
                               kStart - static_cast<int64_t>(rng() % 400) * kSecond);
    t.report_interval_s = rng() % 3 == 0 ? 0u : static_cast<uint32_t>(30 + rng() % 90);
    t.applied_policy_version = rng() % 4 == 0 ? 3 : (t.group.starts_with("b/x") ? 6 : 4);
    t.agent_time_ms = t.last_report_ms + static_cast<int64_t>(rng() % 300 - 150) * kSecond;
    switch (rng() % 6) {
      case 0:
        t.enforcement.mode = EnforcementMode::kAuditOnly;
        break;
      case 1:
        t.enforcement.healthy = false;
        break;
      case 2:
        t.enforcement.mode = EnforcementMode::kUnspecified;
        break;
      default:
        break;
    }
    if (rng() % 10 == 0) t.agent_time_ms = 0;  // clock not reported
    const char* serials[] = {"REG", "FOREVER", "STRANGER"};
    for (unsigned k = 0; k < rng() % 3; ++k) {
      const Action actions[] = {Action::kAllow, Action::kReadOnly, Action::kBlock};
      t.devices.push_back(
          Stick("2-" + std::to_string(k), serials[rng() % 3], actions[rng() % 3], rng() % 5 != 0));
    }
    if (rng() % 20 == 0) t.last_report_ms = 0;  // never reported
    states[t.terminal_id] = t;
    index_.OnReportStored(t);
  }
  // Across staleness limits and the medium's expiry, forwards and back.
  for (int64_t offset : {int64_t{0}, 60 * kSecond, 179 * kSecond, 181 * kSecond, 4 * 60 * kSecond,
                         11 * 60 * kSecond, kDay, 90 * kSecond}) {
    clock_.Set(kStart + offset);
    ExpectAgreement(states);
  }
  // A policy change, then more reports.
  assigned_["a"] = {LedgerPolicy({Medium("STRANGER", 0)}), 7};
  for (int i = 0; i < 300; i += 3) {
    TerminalState& t = states["t" + std::to_string(i)];
    t.last_report_ms = clock_.NowMs();
    t.applied_policy_version = 7;
    index_.OnReportStored(t);
  }
  ExpectAgreement(states);
  clock_.Advance(10 * 60 * kSecond);
  ExpectAgreement(states);

  // Group counts agree with AggregateByGroup over the same verdicts.
  for (std::string_view within : {"", "b", "b/x", "a/y", "none"}) {
    std::vector<std::pair<std::string, ComplianceStatus>> statuses;
    std::map<std::string, uint32_t> stale;
    for (const auto& [id, t] : states) {
      const TerminalCompliance c = Expected(t);
      statuses.emplace_back(t.group, c.status);
      const auto failing = c.FailingChecks();
      if (std::find(failing.begin(), failing.end(), "reporting") == failing.end()) continue;
      std::string_view g = t.group;
      while (GroupContains(within, g)) {
        ++stale[std::string(g)];
        if (g.empty()) break;
        const std::size_t slash = g.rfind('/');
        g = slash == std::string_view::npos ? std::string_view() : g.substr(0, slash);
      }
    }
    const std::vector<GroupSummary> want = AggregateByGroup(statuses, within);
    const std::vector<GroupCounts> got = index_.Summaries(within);
    ASSERT_EQ(got.size(), want.size()) << within;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].group, want[i].group);
      EXPECT_EQ(got[i].terminals, want[i].terminals) << got[i].group;
      EXPECT_EQ(got[i].compliant, want[i].compliant) << got[i].group;
      EXPECT_EQ(got[i].non_compliant, want[i].non_compliant) << got[i].group;
      EXPECT_EQ(got[i].unknown, want[i].unknown) << got[i].group;
      EXPECT_EQ(got[i].stale, stale[got[i].group]) << got[i].group;
    }
  }
}

class ComplianceIndexFilterTest : public ComplianceIndexTest {
 protected:
  void SetUp() override {
    // 25 terminals: t00..t24, every fifth silent, every third audit-only.
    for (int i = 0; i < 25; ++i) {
      const std::string id = (i < 10 ? "t0" : "t") + std::to_string(i);
      TerminalState t = Terminal(id, i % 2 == 0 ? "osaka/suita" : "osakafu/x", kStart);
      t.hostname = i == 7 ? "Suita-HOKEN-PC07" : "host-" + std::to_string(i);
      if (i % 5 == 0) t.last_report_ms = kStart - kDay;
      if (i % 3 == 0) t.enforcement.mode = EnforcementMode::kAuditOnly;
      index_.OnReportStored(t);
    }
  }

  std::vector<std::string> Ids(const TerminalPage& page) {
    std::vector<std::string> ids;
    for (const TerminalRow& r : page.rows) ids.push_back(r.terminal_id);
    return ids;
  }
};

TEST_F(ComplianceIndexFilterTest, PagingKeepsTheTotalAndStopsAtTheEnd) {
  TerminalFilter f;
  f.limit = 10;
  TerminalPage first = index_.List(f);
  EXPECT_EQ(first.total, 25u);
  ASSERT_EQ(first.rows.size(), 10u);
  EXPECT_EQ(first.rows.front().terminal_id, "t00");  // by id
  EXPECT_EQ(first.rows.back().terminal_id, "t09");
  f.offset = 20;
  TerminalPage last = index_.List(f);
  EXPECT_EQ(last.total, 25u);
  EXPECT_THAT(Ids(last), ElementsAre("t20", "t21", "t22", "t23", "t24"));
  f.offset = 25;
  EXPECT_THAT(index_.List(f).rows, IsEmpty());
  EXPECT_EQ(index_.List(f).total, 25u);
  f.offset = 24;
  f.limit = 1;
  EXPECT_THAT(Ids(index_.List(f)), ElementsAre("t24"));
  f.offset = 1'000'000;
  EXPECT_EQ(index_.List(f).total, 25u);
}

TEST_F(ComplianceIndexFilterTest, GroupIsASubtreeNotAPrefix) {
  TerminalFilter f;
  f.group = "osaka";
  const TerminalPage page = index_.List(f);
  EXPECT_EQ(page.total, 13u);  // the even ones
  for (const TerminalRow& r : page.rows) EXPECT_EQ(r.group, "osaka/suita");
  f.group = "osaka/suita/hoken";
  EXPECT_EQ(index_.List(f).total, 0u);
}

TEST_F(ComplianceIndexFilterTest, StatusAndFailingCheckCombine) {
  TerminalFilter f;
  f.failing_check = CheckPosition("reporting");
  EXPECT_THAT(Ids(index_.List(f)), ElementsAre("t00", "t05", "t10", "t15", "t20"));
  f.failing_check = CheckPosition("enforcement_active");
  EXPECT_EQ(index_.List(f).total, 9u);  // 0, 3, ..., 24
  f.group = "osakafu";
  EXPECT_THAT(Ids(index_.List(f)), ElementsAre("t03", "t09", "t15", "t21"));
  f.failing_check.reset();
  f.status = ComplianceStatus::kCompliant;
  // Odd, not a multiple of 3 or 5: 1, 7, 11, 13, 17, 19, 23.
  EXPECT_THAT(Ids(index_.List(f)), ElementsAre("t01", "t07", "t11", "t13", "t17", "t19", "t23"));
  f.status = ComplianceStatus::kUnknown;
  EXPECT_EQ(index_.List(f).total, 0u);
}

TEST_F(ComplianceIndexFilterTest, SearchLooksInIdAndHostNameIgnoringCase) {
  TerminalFilter f;
  f.search = "suita-hoken";  // AdminQueries lower-cases the request's text
  EXPECT_THAT(Ids(index_.List(f)), ElementsAre("t07"));
  f.search = "t2";
  EXPECT_THAT(Ids(index_.List(f)), ElementsAre("t20", "t21", "t22", "t23", "t24"));
  f.search = "host-1";
  EXPECT_EQ(index_.List(f).total, 11u);  // host-1 and host-10 to host-19
  f.search = "t2";
  f.failing_check = CheckPosition("reporting");
  EXPECT_THAT(Ids(index_.List(f)), ElementsAre("t20"));
  f.search = "nothing";
  EXPECT_EQ(index_.List(f).total, 0u);
}

TEST(CheckPositionTest, KnowsTheSixChecks) {
  EXPECT_EQ(CheckPosition("reporting"), 0);
  EXPECT_EQ(CheckPosition("clock_skew"), 4);
  EXPECT_EQ(CheckPosition("not_revoked"), 5);
  EXPECT_FALSE(CheckPosition("Reporting"));
  EXPECT_FALSE(CheckPosition(""));
}

// The index loaded from a real store agrees with the one fed report by
// report, and with AdminQueries' per-terminal evaluation.
class ComplianceIndexStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("index.db"), SqliteOptions{});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    static const PolicySigningKey key = PolicySigningKey::Generate().value();
    hub_ = std::make_unique<PolicyHub>(store_.get(), &clock_, key);
    ASSERT_TRUE(hub_->Load().ok());
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PolicyHub> hub_;
};

TEST_F(ComplianceIndexStoreTest, LoadedIndexMatchesReportsAndPerTerminalEvaluation) {
  ASSERT_TRUE(hub_->Apply("osaka",
                          "name: p\nregistered_media:\n  - serial: \"OK1\"\n    vid_pid: "
                          "\"0781:5581\"\nrules:\n  - name: reg\n    match: {registered_media: "
                          "true}\n    action: allow\n",
                          "p.yaml", "mamori://admin/a")
                  .ok());
  ComplianceIndex fed(ComplianceIndex::AssignedBy(hub_.get()), &clock_, ComplianceConfig{});
  for (int i = 0; i < 40; ++i) {
    TerminalState t = Terminal("t" + std::to_string(100 + i), i % 2 ? "osaka/suita" : "kyoto",
                               kStart - (i % 7) * 60 * kSecond);
    if (i % 4 == 0) t.devices.push_back(Stick("1-2", i % 8 ? "OK1" : "NO", Action::kAllow));
    ASSERT_TRUE(store_->PutTerminalState(t).ok());
    fed.OnReportStored(t);
  }
  ComplianceIndex loaded(ComplianceIndex::AssignedBy(hub_.get()), &clock_, ComplianceConfig{});
  ASSERT_TRUE(loaded.Load(store_.get()).ok());
  EXPECT_EQ(loaded.size(), 40u);
  ComplianceIndex part(ComplianceIndex::AssignedBy(hub_.get()), &clock_, ComplianceConfig{});
  ASSERT_TRUE(part.Load(store_.get(), "osaka").ok());
  EXPECT_EQ(part.size(), 20u);

  AdminQueries queries(store_.get(), hub_.get(), &clock_, ComplianceConfig{}, &loaded);
  const TerminalPage a = fed.List(TerminalFilter{});
  const TerminalPage b = loaded.List(TerminalFilter{});
  ASSERT_EQ(a.rows.size(), b.rows.size());
  for (std::size_t i = 0; i < a.rows.size(); ++i) {
    EXPECT_EQ(a.rows[i].terminal_id, b.rows[i].terminal_id);
    EXPECT_EQ(a.rows[i].status, b.rows[i].status);
    EXPECT_EQ(a.rows[i].failing_checks, b.rows[i].failing_checks);
    v1::GetTerminalRequest req;
    req.set_terminal_id(b.rows[i].terminal_id);
    v1::TerminalDetail detail;
    ASSERT_TRUE(queries.GetTerminal(req, &detail).ok());
    EXPECT_EQ(static_cast<int>(detail.summary().status()),
              static_cast<int>(ToProto(b.rows[i].status)));
    EXPECT_EQ(std::vector<std::string>(detail.summary().failing_checks().begin(),
                                       detail.summary().failing_checks().end()),
              b.rows[i].failing_checks);
  }
  // Without an index AdminQueries loads one per call: same answers.
  AdminQueries uncached(store_.get(), hub_.get(), &clock_, ComplianceConfig{});
  v1::ListTerminalsRequest req;
  req.set_status(v1::COMPLIANCE_STATUS_NON_COMPLIANT);
  v1::ListTerminalsResponse with, without;
  ASSERT_TRUE(queries.ListTerminals(req, &with).ok());
  ASSERT_TRUE(uncached.ListTerminals(req, &without).ok());
  EXPECT_EQ(with.SerializeAsString(), without.SerializeAsString());
  EXPECT_GT(with.total(), 0u);
}

TEST_F(ComplianceIndexStoreTest, ListTerminalsRefusesBadFilters) {
  AdminQueries queries(store_.get(), hub_.get(), &clock_, ComplianceConfig{});
  v1::ListTerminalsResponse resp;
  v1::ListTerminalsRequest req;
  req.set_failing_check("reportin");
  Status s = queries.ListTerminals(req, &resp);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.error().message, HasSubstr("no_unapproved_storage"));
  req.clear_failing_check();
  req.set_search(std::string(65, 'a'));
  EXPECT_FALSE(queries.ListTerminals(req, &resp).ok());
  req.set_search(std::string(64, 'a'));
  EXPECT_TRUE(queries.ListTerminals(req, &resp).ok());
  req.set_search("a\nb");
  EXPECT_FALSE(queries.ListTerminals(req, &resp).ok());
  // Upper case in the request matches lower case in the data and back.
  TerminalState t = Terminal("urn-X1", "g", kStart);
  t.hostname = "Suita-PC";
  ASSERT_TRUE(store_->PutTerminalState(t).ok());
  req.set_search("SUITA-pc");
  ASSERT_TRUE(queries.ListTerminals(req, &resp).ok());
  EXPECT_EQ(resp.total(), 1u);
  req.set_search("URN-x");
  resp.Clear();
  ASSERT_TRUE(queries.ListTerminals(req, &resp).ok());
  EXPECT_EQ(resp.total(), 1u);
}

}  // namespace
}  // namespace mamori

namespace mamori {
namespace {

class FakeStandings final : public TerminalStandings {
 public:
  StandingInfo StandingOf(std::string_view terminal_id) const override {
    auto it = standings_.find(std::string(terminal_id));
    return it == standings_.end() ? StandingInfo{} : it->second;
  }
  void Set(const std::string& id, TerminalStanding s) {
    standings_[id] = StandingInfo{s, "lost", "cert:mamori://admin/ops", kStart};
  }

 private:
  std::map<std::string, StandingInfo> standings_;
};

TEST(ComplianceIndexStandingTest, RevokedFailsNotRevokedAndRetiredLeavesListsAndCounts) {
  FakeClock clock;
  FakeStandings standings;
  ComplianceIndex index([](std::string_view) { return PolicyHub::Assigned{}; }, &clock,
                        ComplianceConfig{}, &standings);
  standings.Set("t3", TerminalStanding::kRetired);  // known before its report
  for (const char* id : {"t1", "t2", "t3"}) index.OnReportStored(Terminal(id, "osaka/a", kStart));

  index.OnStandingChanged("t2", TerminalStanding::kRevoked);
  standings.Set("t2", TerminalStanding::kRevoked);

  TerminalPage page = index.List(TerminalFilter{});
  ASSERT_EQ(page.total, 2u);
  EXPECT_EQ(page.rows[0].terminal_id, "t1");
  EXPECT_EQ(page.rows[0].status, ComplianceStatus::kCompliant);
  EXPECT_EQ(page.rows[0].standing, TerminalStanding::kActive);
  EXPECT_EQ(page.rows[1].terminal_id, "t2");
  EXPECT_EQ(page.rows[1].status, ComplianceStatus::kNonCompliant);
  EXPECT_THAT(page.rows[1].failing_checks, ElementsAre("not_revoked"));
  EXPECT_EQ(page.rows[1].standing, TerminalStanding::kRevoked);

  // A later report (one in flight when it was revoked) keeps the standing.
  index.OnReportStored(Terminal("t2", "osaka/a", kStart + kSecond));
  TerminalFilter revoked;
  revoked.standing = TerminalStanding::kRevoked;
  EXPECT_EQ(index.List(revoked).total, 1u);
  TerminalFilter failing;
  failing.failing_check = CheckPosition(kCheckNotRevoked);
  EXPECT_EQ(index.List(failing).total, 1u);

  TerminalFilter retired;
  retired.standing = TerminalStanding::kRetired;
  page = index.List(retired);
  ASSERT_EQ(page.total, 1u);
  EXPECT_EQ(page.rows[0].terminal_id, "t3");
  EXPECT_EQ(page.rows[0].standing, TerminalStanding::kRetired);

  for (const GroupCounts& g : index.Summaries()) {
    EXPECT_EQ(g.terminals, 2u) << g.group;  // t3 is not counted anywhere
    EXPECT_EQ(g.compliant, 1u) << g.group;
    EXPECT_EQ(g.non_compliant, 1u) << g.group;
    EXPECT_EQ(g.revoked, 1u) << g.group;
  }
}

TEST(ComplianceIndexStandingTest, NotRevokedEvidenceSaysWhoWhenAndWhy) {
  TerminalState t = Terminal("t1", "g", kStart);
  StandingInfo revoked{TerminalStanding::kRevoked, "stolen laptop", "cert:mamori://admin/ops",
                       kStart};
  const TerminalCompliance c =
      EvaluateCompliance(t, nullptr, 0, kStart, ComplianceConfig{}, &revoked);
  EXPECT_EQ(c.status, ComplianceStatus::kNonCompliant);
  EXPECT_THAT(c.FailingChecks(), ElementsAre("not_revoked"));
  EXPECT_THAT(c.checks.back().evidence, HasSubstr("identity revoked by cert:mamori://admin/ops"));
  EXPECT_THAT(c.checks.back().evidence, HasSubstr("stolen laptop"));
  // A terminal that never reported but was revoked is still non-compliant.
  TerminalState silent = Terminal("t2", "g", 0);
  EXPECT_EQ(EvaluateCompliance(silent, nullptr, 0, kStart, ComplianceConfig{}, &revoked).status,
            ComplianceStatus::kNonCompliant);
  EXPECT_EQ(EvaluateCompliance(silent, nullptr, 0, kStart, ComplianceConfig{}).status,
            ComplianceStatus::kUnknown);
}

}  // namespace
}  // namespace mamori
