// The dry run of a policy apply, against a real SQLite store and policy hub:
// nothing is stored, and the devices listed are exactly those the new policy
// would reach and decide differently.

#include "server/policy/policy_dry_run.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000;

class FixedClock final : public Clock {
 public:
  int64_t NowMs() const override { return kNow; }
};

constexpr std::string_view kAllowStorage =
    "name: allow-storage\ndefaults:\n  storage: allow\n  other: allow\nrules:\n"
    "  - name: phones\n    match: {class: still_image}\n    action: block\n";
constexpr std::string_view kBlockStorage =
    "name: block-storage\ndefaults:\n  storage: block\n  other: allow\nrules:\n"
    "  - name: phones\n    match: {class: still_image}\n    action: block\n";

Device Stick(std::string id, std::string serial) {
  Device d;
  d.device_id = std::move(id);
  d.identity.vendor_id = 0x0781;
  d.identity.product_id = 0x5581;
  d.identity.serial = std::move(serial);
  d.identity.manufacturer = "SanDisk";
  d.identity.product = "Cruzer Blade";
  d.identity.device_class = DeviceClass::kMassStorage;
  d.identity.interface_classes = {DeviceClass::kMassStorage};
  d.decision.action = Action::kAllow;
  d.decision.matched_rule = "default";
  d.decision.enforced = true;
  return d;
}

Device Keyboard(std::string id) {
  Device d;
  d.device_id = std::move(id);
  d.identity.vendor_id = 0x046d;
  d.identity.product_id = 0xc31c;
  d.identity.product = "Keyboard";
  d.identity.device_class = DeviceClass::kHid;
  d.identity.interface_classes = {DeviceClass::kHid};
  d.decision.action = Action::kAllow;
  d.decision.matched_rule = "default";
  return d;
}

class PolicyDryRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("dry.db"), SqliteOptions{});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    auto key = PolicySigningKey::Generate();
    ASSERT_TRUE(key.ok()) << key.error().message;
    hub_ = std::make_unique<PolicyHub>(store_.get(), &clock_, *key);
    ASSERT_TRUE(hub_->Load().ok());
  }

  void Terminal(const std::string& id, const std::string& group, std::vector<Device> devices) {
    TerminalState t;
    t.terminal_id = id;
    t.group = group;
    t.last_report_ms = kNow;
    t.devices = std::move(devices);
    ASSERT_TRUE(store_->PutTerminalState(t).ok());
  }

  uint64_t Apply(const std::string& group, std::string_view yaml) {
    auto r = hub_->Apply(group, yaml, "apply.yaml", "mamori://admin/a");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->version : 0;
  }

  Result<PolicyDryRun> DryRun(const std::string& group, std::string_view yaml,
                              std::string_view source = "new.yaml") {
    return DryRunPolicy(*hub_, *store_, group, yaml, source, kNow);
  }

  static std::vector<std::string> Changed(const PolicyDryRun& run) {
    std::vector<std::string> out;
    for (const auto& c : run.changes) out.push_back(c.terminal_id + "/" + c.device.device_id);
    return out;
  }

  testing::TempDir dir_;
  FixedClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PolicyHub> hub_;
};

TEST_F(PolicyDryRunTest, StoresNothingAndReportsTheReplacedVersion) {
  const uint64_t v1 = Apply("osaka", kAllowStorage);
  auto run = DryRun("osaka", kBlockStorage);
  ASSERT_TRUE(run.ok()) << run.error().message;
  ASSERT_TRUE(run->current);
  EXPECT_EQ(run->current->stored.version, v1);
  EXPECT_EQ(run->current->stored.group, "osaka");
  EXPECT_FALSE(run->current->inherited);
  EXPECT_EQ(run->new_policy_name, "block-storage");
  EXPECT_THAT(run->diff.text, HasSubstr("--- osaka v" + std::to_string(v1) + "\n+++ new.yaml\n"));
  EXPECT_THAT(run->diff.text, HasSubstr("-name: allow-storage\n+name: block-storage\n"));
  EXPECT_THAT(run->diff.text, HasSubstr("-  storage: allow\n+  storage: block\n"));

  // Nothing stored: same version in force, same history, nothing for watchers.
  EXPECT_EQ(hub_->AssignedVersion("osaka"), v1);
  EXPECT_EQ(store_->PolicyHistory("osaka")->size(), 1u);
  EXPECT_EQ(store_->RecentPolicyVersions("osaka", 0)->size(), 1u);
  // The next real apply still gets the next revision.
  EXPECT_EQ(Apply("osaka", kBlockStorage), v1 + 1);
}

TEST_F(PolicyDryRunTest, InheritedCurrentPolicyIsNamedAsSuch) {
  const uint64_t v1 = Apply("osaka", kAllowStorage);
  auto run = DryRun("osaka/suita", kBlockStorage);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run->current);
  EXPECT_TRUE(run->current->inherited);
  EXPECT_EQ(run->current->stored.group, "osaka");
  EXPECT_EQ(run->current->stored.version, v1);
  EXPECT_FALSE(hub_->Resolve("osaka/suita")->stored.group == "osaka/suita");
}

TEST_F(PolicyDryRunTest, NoCurrentPolicyComparesWithTheBuiltinDefault) {
  Terminal("t-1", "nara", {Stick("sda", "S1"), Keyboard("kbd")});
  auto run = DryRun("nara", kAllowStorage);
  ASSERT_TRUE(run.ok());
  EXPECT_FALSE(run->current);
  EXPECT_THAT(run->diff.text, HasSubstr("@@ -0,0 +1,"));
  // The built-in default blocks storage; the new policy allows it.
  ASSERT_EQ(Changed(*run), (std::vector<std::string>{"t-1/sda"}));
  EXPECT_EQ(run->changes[0].old_decision.action, Action::kBlock);
  EXPECT_EQ(run->changes[0].old_decision.matched_rule, "default");
  EXPECT_EQ(run->changes[0].new_decision.action, Action::kAllow);
}

TEST_F(PolicyDryRunTest, ListsChangedDevicesOfTheGroupAndInheritingDescendantsOnly) {
  Apply("osaka", kAllowStorage);
  // osaka/kyoiku has its own policy: the change to osaka does not reach it.
  Apply("osaka/kyoiku", kAllowStorage);
  Terminal("t-osaka", "osaka", {Stick("sda", "S1"), Keyboard("kbd")});
  Terminal("t-suita", "osaka/suita/hoken", {Stick("sdb", "S2")});
  Terminal("t-kyoiku", "osaka/kyoiku", {Stick("sdc", "S3")});
  Terminal("t-kyoiku-sub", "osaka/kyoiku/x", {Stick("sdd", "S4")});
  Terminal("t-kyoto", "kyoto", {Stick("sde", "S5")});
  Terminal("t-osakax", "osakax", {Stick("sdf", "S6")});

  auto run = DryRun("osaka", kBlockStorage);
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(Changed(*run), (std::vector<std::string>{"t-osaka/sda", "t-suita/sdb"}));
  EXPECT_EQ(run->terminals_examined, 2u);
  EXPECT_EQ(run->devices_examined, 3u);  // the keyboard stays allowed
  const DecisionChange& c = run->changes[0];
  EXPECT_EQ(c.terminal_group, "osaka");
  EXPECT_EQ(c.device.identity.serial, "S1");
  EXPECT_EQ(c.device.identity.VidPid(), "0781:5581");
  EXPECT_EQ(c.old_decision.action, Action::kAllow);
  EXPECT_EQ(c.old_decision.matched_rule, "default");
  EXPECT_EQ(c.new_decision.action, Action::kBlock);
  EXPECT_EQ(c.new_decision.matched_rule, "default");
  EXPECT_EQ(run->changes[1].terminal_group, "osaka/suita/hoken");

  // Dry-running on the descendant with its own policy reaches it and its subgroup.
  auto sub = DryRun("osaka/kyoiku", kBlockStorage);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(Changed(*sub), (std::vector<std::string>{"t-kyoiku/sdc", "t-kyoiku-sub/sdd"}));
}

TEST_F(PolicyDryRunTest, NewOwnPolicyOnAnInheritingSubgroupReachesOnlyThatSubtree) {
  Apply("osaka", kAllowStorage);
  Terminal("t-osaka", "osaka", {Stick("sda", "S1")});
  Terminal("t-suita", "osaka/suita", {Stick("sdb", "S2")});
  auto run = DryRun("osaka/suita", kBlockStorage);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(Changed(*run), (std::vector<std::string>{"t-suita/sdb"}));
}

TEST_F(PolicyDryRunTest, SameOutcomeIsNotAChange) {
  Apply("osaka", kBlockStorage);
  Terminal("t-osaka", "osaka", {Stick("sda", "S1"), Keyboard("kbd")});
  auto identical = DryRun("osaka", kBlockStorage);
  ASSERT_TRUE(identical.ok());
  EXPECT_EQ(identical->diff.text, "");
  EXPECT_TRUE(identical->changes.empty());
  // A rule that blocks storage under another name: the outcome is the same.
  auto renamed = DryRun("osaka",
                        "name: block-storage\ndefaults:\n  storage: block\nrules:\n"
                        "  - name: sticks\n    match: {class: mass_storage}\n    action: block\n");
  ASSERT_TRUE(renamed.ok());
  EXPECT_TRUE(renamed->changes.empty());
  EXPECT_NE(renamed->diff.text, "");
}

TEST_F(PolicyDryRunTest, InvalidPolicyFailsExactlyAsARealApply) {
  Apply("osaka", kAllowStorage);
  const std::string bad =
      "name: broken\ndefaults:\n  storage: block\nrules:\n  - name: r1\n    match:\n"
      "      vid_pid: \"zz:1\"\n    action: allow\n";
  auto dry = DryRun("osaka", bad, "bad.yaml");
  ASSERT_FALSE(dry.ok());
  auto real = hub_->Apply("osaka", bad, "bad.yaml", "mamori://admin/a");
  ASSERT_FALSE(real.ok());
  EXPECT_EQ(dry.error().message, real.error().message);
  EXPECT_EQ(dry.error().code, real.error().code);
  EXPECT_THAT(dry.error().message, HasSubstr("bad.yaml:7"));

  auto bad_group = DryRun("Osaka/../x", kAllowStorage);
  auto real_group = hub_->Apply("Osaka/../x", kAllowStorage, "new.yaml", "a");
  ASSERT_FALSE(bad_group.ok());
  ASSERT_FALSE(real_group.ok());
  EXPECT_EQ(bad_group.error().message, real_group.error().message);
  EXPECT_EQ(store_->PolicyHistory("osaka")->size(), 1u);
}

}  // namespace
}  // namespace mamori
