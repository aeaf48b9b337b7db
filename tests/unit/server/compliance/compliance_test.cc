#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "server/compliance/compliance_engine.h"

namespace mamori {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 1'743'498'000'000;  // 2025-04-01T09:00:00Z
constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;

Device StorageDevice(std::string id, uint16_t vid, uint16_t pid, std::string serial,
                     Action reported, bool enforced = true) {
  Device d;
  d.device_id = std::move(id);
  d.identity.vendor_id = vid;
  d.identity.product_id = pid;
  d.identity.serial = std::move(serial);
  d.identity.manufacturer = "SanDisk";
  d.identity.product = "Cruzer Blade";
  d.identity.device_class = DeviceClass::kUnspecified;
  d.identity.interface_classes = {DeviceClass::kMassStorage};
  d.decision.action = reported;
  d.decision.matched_rule = "ledger";
  d.decision.enforced = enforced;
  return d;
}

Device Keyboard() {
  Device d;
  d.device_id = "kbd";
  d.identity.vendor_id = 0x046d;
  d.identity.product_id = 0xc31c;
  d.identity.device_class = DeviceClass::kHid;
  d.decision.action = Action::kAllow;
  d.decision.matched_rule = "default";
  d.decision.enforced = true;
  return d;
}

// A terminal that passes every check against policy version 5.
TerminalState Healthy() {
  TerminalState t;
  t.terminal_id = "urn:mamori:terminal:suita-0001";
  t.group = "osaka/suita/hoken";
  t.last_report_ms = kNow - 42 * kSecond;
  t.agent_time_ms = t.last_report_ms + 1200;
  t.report_interval_s = 60;
  t.applied_policy_version = 5;
  t.enforcement.mode = EnforcementMode::kEnforce;
  t.enforcement.healthy = true;
  t.enforcement.backend = "sysfs";
  t.devices = {Keyboard()};
  return t;
}

// Allows exactly one registered stick, read-only for one more, blocks the rest.
Policy LedgerPolicy() {
  Policy p;
  p.name = "ledger";
  Rule allow;
  allow.name = "approved-stick";
  allow.match.vendor_id = 0x0781;
  allow.match.product_id = 0x5567;
  allow.match.serials = {"APPROVED1"};
  allow.action = Action::kAllow;
  Rule read_only;
  read_only.name = "read-only-stick";
  read_only.match.serials = {"READONLY1"};
  read_only.action = Action::kReadOnly;
  p.rules = {allow, read_only};
  p.default_storage_action = Action::kBlock;
  return p;
}

// By value: callers pass the temporary result of Eval().
ComplianceCheck Find(const TerminalCompliance& c, std::string_view name) {
  for (const auto& check : c.checks) {
    if (check.name == name) return check;
  }
  ADD_FAILURE() << "no check named " << name;
  return ComplianceCheck{"missing", CheckResult::kUnknown, "check not found"};
}

class ComplianceTest : public ::testing::Test {
 protected:
  TerminalCompliance Eval(const TerminalState& t, uint64_t assigned_version = 5) {
    return EvaluateCompliance(t, &policy_, assigned_version, kNow, config_);
  }

  Policy policy_ = LedgerPolicy();
  ComplianceConfig config_;
};

TEST(ComplianceVerdictTest, ReportingAndPolicyCurrentVerdictsAtTheirBounds) {
  EXPECT_EQ(ReportingVerdict(0, 180'000, 1'000'000), CheckResult::kUnknown);
  EXPECT_EQ(ReportingVerdict(820'000, 180'000, 1'000'000), CheckResult::kPass);  // exactly at
  EXPECT_EQ(ReportingVerdict(819'999, 180'000, 1'000'000), CheckResult::kFail);
  EXPECT_EQ(ReportingVerdict(2'000'000, 180'000, 1'000'000), CheckResult::kPass);  // after now
  EXPECT_EQ(PolicyCurrentVerdict(3, 3), CheckResult::kPass);
  EXPECT_EQ(PolicyCurrentVerdict(0, 0), CheckResult::kPass);
  EXPECT_EQ(PolicyCurrentVerdict(2, 3), CheckResult::kFail);
  EXPECT_EQ(PolicyCurrentVerdict(4, 3), CheckResult::kFail);
}

TEST(ComplianceVerdictTest, CombineOverResultsAndChecksAgree) {
  using R = CheckResult;
  for (const std::vector<R>& rs : std::vector<std::vector<R>>{{},
                                                              {R::kPass},
                                                              {R::kPass, R::kUnknown},
                                                              {R::kUnknown, R::kFail},
                                                              {R::kPass, R::kPass}}) {
    std::vector<ComplianceCheck> checks;
    for (R r : rs) checks.push_back({"x", r, ""});
    EXPECT_EQ(Combine(rs), Combine(checks));
  }
  EXPECT_EQ(Combine(std::vector<R>{}), ComplianceStatus::kUnknown);
  EXPECT_EQ(Combine(std::vector<R>{R::kPass, R::kUnknown, R::kFail}),
            ComplianceStatus::kNonCompliant);
}

TEST_F(ComplianceTest, HealthyTerminalIsCompliantWithEveryCheckInOrder) {
  const TerminalCompliance c = Eval(Healthy());
  ASSERT_EQ(c.checks.size(), 6u);
  EXPECT_EQ(c.checks[0].name, kCheckReporting);
  EXPECT_EQ(c.checks[1].name, kCheckPolicyCurrent);
  EXPECT_EQ(c.checks[2].name, kCheckEnforcementActive);
  EXPECT_EQ(c.checks[3].name, kCheckNoUnapprovedStorage);
  EXPECT_EQ(c.checks[4].name, kCheckClockSkew);
  EXPECT_EQ(c.checks[5].name, kCheckNotRevoked);
  for (const auto& check : c.checks) {
    EXPECT_EQ(check.result, CheckResult::kPass) << check.name << ": " << check.evidence;
    EXPECT_FALSE(check.evidence.empty()) << check.name;
  }
  EXPECT_EQ(c.status, ComplianceStatus::kCompliant);
}

TEST_F(ComplianceTest, NeverReportedIsUnknownEverywhere) {
  TerminalState t = Healthy();
  t.last_report_ms = 0;
  const TerminalCompliance c = Eval(t);
  for (const auto& check : c.checks) {
    EXPECT_EQ(check.result, CheckResult::kUnknown) << check.name;
    EXPECT_EQ(check.evidence, "no report received") << check.name;
  }
  EXPECT_EQ(c.status, ComplianceStatus::kUnknown);
}

TEST_F(ComplianceTest, ReportingPassesWithinThreeIntervals) {
  const ComplianceCheck check = Find(Eval(Healthy()), kCheckReporting);
  EXPECT_EQ(check.result, CheckResult::kPass);
  EXPECT_THAT(check.evidence, AllOf(HasSubstr("last report 42 s ago"), HasSubstr("limit 180 s"),
                                    HasSubstr("2025-04-01T08:59:18Z")));

  TerminalState edge = Healthy();
  edge.last_report_ms = kNow - 180 * kSecond;
  edge.agent_time_ms = edge.last_report_ms;
  EXPECT_EQ(Find(Eval(edge), kCheckReporting).result, CheckResult::kPass);
  edge.last_report_ms -= 1;
  edge.agent_time_ms = edge.last_report_ms;
  EXPECT_EQ(Find(Eval(edge), kCheckReporting).result, CheckResult::kFail);
}

TEST_F(ComplianceTest, ReportingFailsWhenStaleAndSaysHowStale) {
  TerminalState t = Healthy();
  t.last_report_ms = kNow - (2 * kHour + 5 * kMinute + 7 * kSecond);
  t.agent_time_ms = t.last_report_ms;
  const TerminalCompliance c = Eval(t);
  const ComplianceCheck check = Find(c, kCheckReporting);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence,
              AllOf(HasSubstr("last report 2 h 5 min ago"), HasSubstr("limit 180 s")));
  EXPECT_EQ(c.status, ComplianceStatus::kNonCompliant);
  EXPECT_EQ(c.FailingChecks(), std::vector<std::string>{"reporting"});
}

TEST_F(ComplianceTest, ReportingUsesConfiguredDefaultWhenAgentGaveNoInterval) {
  TerminalState t = Healthy();
  t.report_interval_s = 0;
  config_.default_report_interval_ms = 10 * kSecond;
  const ComplianceCheck check = Find(Eval(t), kCheckReporting);
  EXPECT_EQ(check.result, CheckResult::kFail);  // 42 s > 3 x 10 s
  EXPECT_THAT(check.evidence, HasSubstr("limit 30 s"));

  config_.default_report_interval_ms = 20 * kSecond;
  EXPECT_EQ(Find(Eval(t), kCheckReporting).result, CheckResult::kPass);
}

TEST_F(ComplianceTest, ReportStampedAfterNowCountsAsCurrent) {
  TerminalState t = Healthy();
  t.last_report_ms = kNow + 500;
  t.agent_time_ms = t.last_report_ms;
  const ComplianceCheck check = Find(Eval(t), kCheckReporting);
  EXPECT_EQ(check.result, CheckResult::kPass);
  EXPECT_THAT(check.evidence, HasSubstr("last report 0 s ago"));
}

TEST_F(ComplianceTest, PolicyCurrentComparesAppliedWithAssigned) {
  TerminalState t = Healthy();
  EXPECT_EQ(Find(Eval(t, 5), kCheckPolicyCurrent).result, CheckResult::kPass);

  t.applied_policy_version = 3;
  const ComplianceCheck stale = Find(Eval(t, 5), kCheckPolicyCurrent);
  EXPECT_EQ(stale.result, CheckResult::kFail);
  EXPECT_EQ(stale.evidence, "applies version 3, assigned version 5");

  // Newer than assigned (e.g. a policy rolled back on the collector) is also wrong.
  t.applied_policy_version = 6;
  EXPECT_EQ(Find(Eval(t, 5), kCheckPolicyCurrent).result, CheckResult::kFail);

  t.applied_policy_version = 0;
  const TerminalCompliance none = EvaluateCompliance(t, nullptr, 0, kNow, config_);
  EXPECT_EQ(Find(none, kCheckPolicyCurrent).result, CheckResult::kPass);
  EXPECT_THAT(Find(none, kCheckPolicyCurrent).evidence, HasSubstr("built-in default"));
}

TEST_F(ComplianceTest, PolicyCurrentWithNothingAssignedDoesNotClaimTheBuiltinDefault) {
  TerminalState t = Healthy();
  t.applied_policy_version = 0;
  const ComplianceCheck check = Find(Eval(t, 0), kCheckPolicyCurrent);
  EXPECT_EQ(check.result, CheckResult::kPass);
  // An agent with a local bootstrap policy also reports version 0.
  EXPECT_THAT(check.evidence, AllOf(HasSubstr("no policy assigned"), HasSubstr("version 0"),
                                    HasSubstr("local bootstrap policy")));
}

TEST_F(ComplianceTest, EnforcementAuditOnlyFails) {
  TerminalState t = Healthy();
  t.enforcement.mode = EnforcementMode::kAuditOnly;
  const ComplianceCheck check = Find(Eval(t), kCheckEnforcementActive);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence, HasSubstr("audit-only mode: nothing is blocked"));
}

TEST_F(ComplianceTest, EnforcementUnhealthyFailsWithDetail) {
  TerminalState t = Healthy();
  t.enforcement.healthy = false;
  t.enforcement.detail = "cannot write authorized_default: permission denied";
  const ComplianceCheck check = Find(Eval(t), kCheckEnforcementActive);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence,
              AllOf(HasSubstr("unhealthy"), HasSubstr("sysfs"),
                    HasSubstr("cannot write authorized_default: permission denied")));
}

TEST_F(ComplianceTest, EnforcementFailsNamingADeviceWhoseDecisionWasNotCarriedOut) {
  TerminalState t = Healthy();
  Device stuck = StorageDevice("1-2", 0x0781, 0x5567, "X1", Action::kBlock, false);
  stuck.decision.enforcement_error = "EBUSY";
  t.devices.push_back(stuck);
  const ComplianceCheck check = Find(Eval(t), kCheckEnforcementActive);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence, AllOf(HasSubstr("0781:5567"), HasSubstr("\"X1\""),
                                    HasSubstr("not enforced"), HasSubstr("EBUSY")));
  EXPECT_THAT(check.evidence, Not(HasSubstr("046d:c31c")));
}

TEST_F(ComplianceTest, EnforcementUnknownWhenModeNotReported) {
  TerminalState t = Healthy();
  t.enforcement.mode = EnforcementMode::kUnspecified;
  const TerminalCompliance c = Eval(t);
  EXPECT_EQ(Find(c, kCheckEnforcementActive).result, CheckResult::kUnknown);
  EXPECT_EQ(c.status, ComplianceStatus::kUnknown);
}

TEST_F(ComplianceTest, EnforcementPassNamesTheBackend) {
  const ComplianceCheck check = Find(Eval(Healthy()), kCheckEnforcementActive);
  EXPECT_EQ(check.result, CheckResult::kPass);
  EXPECT_THAT(check.evidence, HasSubstr("sysfs"));
}

TEST_F(ComplianceTest, StorageApprovedByAssignedPolicyPasses) {
  TerminalState t = Healthy();
  t.devices.push_back(StorageDevice("1-2", 0x0781, 0x5567, "APPROVED1", Action::kAllow));
  t.devices.push_back(StorageDevice("1-3", 0x0930, 0x6545, "READONLY1", Action::kReadOnly));
  // Blocked and enforced: present but not usable, so not a violation.
  t.devices.push_back(StorageDevice("1-4", 0x0930, 0x6545, "OTHER", Action::kBlock));
  const ComplianceCheck check = Find(Eval(t), kCheckNoUnapprovedStorage);
  EXPECT_EQ(check.result, CheckResult::kPass) << check.evidence;
  EXPECT_THAT(check.evidence, HasSubstr("2 usable storage device(s)"));
  EXPECT_THAT(check.evidence, HasSubstr("policy version 5"));
}

TEST_F(ComplianceTest, NoStorageAtAllPasses) {
  const ComplianceCheck check = Find(Eval(Healthy()), kCheckNoUnapprovedStorage);
  EXPECT_EQ(check.result, CheckResult::kPass);
  EXPECT_EQ(check.evidence, "no usable removable storage");
}

TEST_F(ComplianceTest, UsableStorageThePolicyBlocksFailsWithEvidence) {
  TerminalState t = Healthy();
  Device rogue = StorageDevice("1-2", 0x0781, 0x5567, "ROGUE9", Action::kAllow);
  rogue.identity.product = "Ultra Fit";
  rogue.decision.matched_rule = "old-exception";
  t.devices.push_back(rogue);
  const ComplianceCheck check = Find(Eval(t), kCheckNoUnapprovedStorage);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence,
              AllOf(HasSubstr("0781:5567"), HasSubstr("serial \"ROGUE9\""),
                    HasSubstr("product \"Ultra Fit\""), HasSubstr("agent reported allow"),
                    HasSubstr("old-exception"), HasSubstr("policy version 5 says block"),
                    HasSubstr("rule \"default\"")));
}

TEST_F(ComplianceTest, StorageAllowedByAnExceptionInForcePassesOnlyInsideItsWindow) {
  DeviceException ex;
  ex.id = "EX-4";
  ex.terminal_id = "urn:mamori:terminal:suita-0001";
  ex.vendor_id = 0x0781;
  ex.product_id = 0x5567;
  ex.serial = "LENT1";
  ex.not_before_ms = kNow - kHour;
  ex.not_after_ms = kNow + kHour;
  policy_.exceptions = {ex};
  TerminalState t = Healthy();
  Device lent = StorageDevice("1-2", 0x0781, 0x5567, "LENT1", Action::kAllow);
  lent.decision.matched_rule = "exception:EX-4";
  t.devices.push_back(lent);
  EXPECT_EQ(Find(Eval(t), kCheckNoUnapprovedStorage).result, CheckResult::kPass);
  // Ended: still usable is a violation.
  policy_.exceptions[0].not_after_ms = kNow;
  EXPECT_EQ(Find(Eval(t), kCheckNoUnapprovedStorage).result, CheckResult::kFail);
  // Another terminal's exception does not count.
  policy_.exceptions[0].not_after_ms = kNow + kHour;
  policy_.exceptions[0].terminal_id = "urn:mamori:terminal:other";
  EXPECT_EQ(Find(Eval(t), kCheckNoUnapprovedStorage).result, CheckResult::kFail);
}

TEST_F(ComplianceTest, WritableStorageThePolicyMakesReadOnlyFails) {
  TerminalState t = Healthy();
  t.devices.push_back(StorageDevice("1-2", 0x0930, 0x6545, "READONLY1", Action::kAllow));
  const ComplianceCheck check = Find(Eval(t), kCheckNoUnapprovedStorage);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence, HasSubstr("says read_only"));
}

TEST_F(ComplianceTest, BlockThatWasNotEnforcedCountsAsUsable) {
  TerminalState t = Healthy();
  t.devices.push_back(StorageDevice("1-2", 0x0930, 0x6545, "ROGUE", Action::kBlock, false));
  const ComplianceCheck check = Find(Eval(t), kCheckNoUnapprovedStorage);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence, AllOf(HasSubstr("agent reported block"), HasSubstr("not enforced")));
}

// A keyboard with a storage interface: blocked as a whole, keyboard kept.
Device KeyboardWithStorage(std::vector<DeviceClass> kept) {
  Device d = StorageDevice("1-4", 0x1234, 0x5678, "COMBO1", Action::kBlock);
  d.identity.device_class = DeviceClass::kUnspecified;
  d.identity.interface_classes = {DeviceClass::kHid, DeviceClass::kMassStorage};
  d.decision.allowed_interface_classes = std::move(kept);
  return d;
}

TEST_F(ComplianceTest, CompositeKeepingOnlyItsKeyboardHasNoUsableStorage) {
  TerminalState t = Healthy();
  t.devices.push_back(KeyboardWithStorage({DeviceClass::kHid}));
  const ComplianceCheck check = Find(Eval(t), kCheckNoUnapprovedStorage);
  EXPECT_EQ(check.result, CheckResult::kPass);
  EXPECT_EQ(check.evidence, "no usable removable storage");
}

TEST_F(ComplianceTest, CompositeKeepingItsStorageInterfaceIsUsableStorage) {
  TerminalState t = Healthy();
  t.devices.push_back(KeyboardWithStorage({DeviceClass::kHid, DeviceClass::kMassStorage}));
  const ComplianceCheck check = Find(Eval(t), kCheckNoUnapprovedStorage);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence, AllOf(HasSubstr("COMBO1"), HasSubstr("says block")));
}

TEST_F(ComplianceTest, WithoutAssignedPolicyTheBuiltinDefaultBlocksStorage) {
  TerminalState t = Healthy();
  t.applied_policy_version = 0;
  t.devices.push_back(StorageDevice("1-2", 0x0781, 0x5567, "APPROVED1", Action::kAllow));
  const TerminalCompliance c = EvaluateCompliance(t, nullptr, 0, kNow, config_);
  const ComplianceCheck check = Find(c, kCheckNoUnapprovedStorage);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence, HasSubstr("built-in default policy says block"));
  EXPECT_EQ(c.status, ComplianceStatus::kNonCompliant);
}

TEST_F(ComplianceTest, ClockSkewWithinLimitPasses) {
  const ComplianceCheck check = Find(Eval(Healthy()), kCheckClockSkew);
  EXPECT_EQ(check.result, CheckResult::kPass);
  EXPECT_THAT(check.evidence, AllOf(HasSubstr("skew 1.2 s"), HasSubstr("limit 120 s")));
}

TEST_F(ComplianceTest, ClockSkewBeyondLimitFailsAndSaysWhichWay) {
  TerminalState t = Healthy();
  t.agent_time_ms = t.last_report_ms + 7 * kMinute + 3 * kSecond;
  const ComplianceCheck ahead = Find(Eval(t), kCheckClockSkew);
  EXPECT_EQ(ahead.result, CheckResult::kFail);
  EXPECT_EQ(ahead.evidence, "agent clock 7 min 3 s ahead (limit 120 s)");

  t.agent_time_ms = t.last_report_ms - 3 * kHour;
  const ComplianceCheck behind = Find(Eval(t), kCheckClockSkew);
  EXPECT_EQ(behind.result, CheckResult::kFail);
  EXPECT_EQ(behind.evidence, "agent clock 3 h behind (limit 120 s)");

  t.agent_time_ms = t.last_report_ms - 120 * kSecond;
  EXPECT_EQ(Find(Eval(t), kCheckClockSkew).result, CheckResult::kPass);
}

TEST_F(ComplianceTest, ClockRefusalNewerThanTheSnapshotFailsWithTheRefusalAsEvidence) {
  TerminalState t = Healthy();  // its own skew is within the limit
  t.clock_refused_ms = t.last_report_ms + kHour;
  t.clock_refused_agent_ms = t.clock_refused_ms + 365 * 24 * kHour;
  const ComplianceCheck check = Find(Eval(t), kCheckClockSkew);
  EXPECT_EQ(check.result, CheckResult::kFail);
  EXPECT_THAT(check.evidence, AllOf(HasSubstr("refused"), HasSubstr("365 days ahead"),
                                    HasSubstr("beyond 30 days")));

  // A terminal whose only report was refused fails too.
  TerminalState never;
  never.terminal_id = "t-never";
  never.clock_refused_ms = t.last_report_ms;
  never.clock_refused_agent_ms = 0;  // 1970
  const ComplianceCheck first = Find(Eval(never), kCheckClockSkew);
  EXPECT_EQ(first.result, CheckResult::kFail);
  EXPECT_THAT(first.evidence, HasSubstr("behind"));

  // A later accepted report with a good clock supersedes the refusal.
  t.last_report_ms = t.clock_refused_ms + kMinute;
  t.agent_time_ms = t.last_report_ms;
  EXPECT_EQ(Find(Eval(t), kCheckClockSkew).result, CheckResult::kPass);
}

TEST_F(ComplianceTest, ClockSkewUnknownWhenAgentClockMissing) {
  TerminalState t = Healthy();
  t.agent_time_ms = 0;
  EXPECT_EQ(Find(Eval(t), kCheckClockSkew).result, CheckResult::kUnknown);
}

TEST(AggregateByGroupTest, CountsEachTerminalInItsGroupEveryAncestorAndTheWhole) {
  const std::vector<std::pair<std::string, ComplianceStatus>> terminals = {
      {"a/b/c", ComplianceStatus::kCompliant}, {"a/b/c", ComplianceStatus::kNonCompliant},
      {"a/b", ComplianceStatus::kUnknown},     {"a/bc", ComplianceStatus::kCompliant},
      {"d", ComplianceStatus::kNonCompliant},
  };
  const std::vector<GroupSummary> rows = AggregateByGroup(terminals);
  std::vector<std::string> names;
  for (const auto& r : rows) names.push_back(r.group);
  EXPECT_EQ(names, (std::vector<std::string>{"", "a", "a/b", "a/b/c", "a/bc", "d"}));

  auto row = [&](std::string_view name) {
    for (const auto& r : rows) {
      if (r.group == name) return r;
    }
    ADD_FAILURE() << "no row " << name;
    return GroupSummary{};
  };
  auto expect = [&](std::string_view name, uint32_t total, uint32_t ok, uint32_t bad,
                    uint32_t unknown) {
    const GroupSummary r = row(name);
    EXPECT_EQ(r.terminals, total) << name;
    EXPECT_EQ(r.compliant, ok) << name;
    EXPECT_EQ(r.non_compliant, bad) << name;
    EXPECT_EQ(r.unknown, unknown) << name;
  };
  expect("", 5, 2, 2, 1);
  expect("a", 4, 2, 1, 1);
  expect("a/b", 3, 1, 1, 1);  // a/bc is a sibling, not a child
  expect("a/b/c", 2, 1, 1, 0);
  expect("a/bc", 1, 1, 0, 0);
  expect("d", 1, 0, 1, 0);
}

TEST(AggregateByGroupTest, WithinLimitsRowsToTheSubtree) {
  const std::vector<std::pair<std::string, ComplianceStatus>> terminals = {
      {"a/b/c", ComplianceStatus::kCompliant},
      {"a/b", ComplianceStatus::kNonCompliant},
      {"a/bc", ComplianceStatus::kCompliant},
      {"a", ComplianceStatus::kCompliant},
  };
  const std::vector<GroupSummary> rows = AggregateByGroup(terminals, "a/b");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].group, "a/b");
  EXPECT_EQ(rows[0].terminals, 2u);
  EXPECT_EQ(rows[0].non_compliant, 1u);
  EXPECT_EQ(rows[1].group, "a/b/c");
  EXPECT_EQ(rows[1].terminals, 1u);

  EXPECT_TRUE(AggregateByGroup({}, "").empty());
  EXPECT_TRUE(AggregateByGroup(terminals, "zzz").empty());
}

}  // namespace
}  // namespace mamori
