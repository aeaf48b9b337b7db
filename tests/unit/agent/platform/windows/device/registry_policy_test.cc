#include "agent/platform/windows/device/registry_policy.h"

#include <gtest/gtest.h>

#include <string>

#include "agent/platform/windows/device/device_install_restrictions.h"
#include "common/policy/rule_engine.h"
#include "tests/mocks/fake_registry.h"

namespace mamori {
namespace {

const std::string kDisks =
    "SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\"
    "{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}";

Rule MakeRule(std::string name, Action action, std::vector<DeviceClass> classes) {
  Rule r;
  r.name = std::move(name);
  r.action = action;
  r.match.classes = std::move(classes);
  return r;
}

TEST(DeriveAccessTest, DefaultPolicyBlocksEverything) {
  Policy p;  // default_storage_action = block, no rules
  EXPECT_EQ(DeriveRemovableStorageAccess(p), (RemovableStorageAccess{}));
}

TEST(DeriveAccessTest, HidRuleDoesNotRelaxStorage) {
  Policy p;
  p.rules.push_back(MakeRule("keyboards", Action::kAllow, {DeviceClass::kHid}));
  EXPECT_EQ(DeriveRemovableStorageAccess(p), (RemovableStorageAccess{}));
}

TEST(DeriveAccessTest, RegisteredMediaRuleRelaxesEveryClass) {
  // A rule without class condition could match any storage device, so the
  // class-wide second line must not block what it allows.
  Policy p;
  Rule r;
  r.name = "ledger";
  r.action = Action::kAllow;
  r.match.registered_media = true;
  p.rules.push_back(r);
  const auto a = DeriveRemovableStorageAccess(p);
  EXPECT_EQ(a.removable_disks, Action::kAllow);
  EXPECT_EQ(a.cd_dvd, Action::kAllow);
  EXPECT_EQ(a.wpd, Action::kAllow);
}

TEST(DeriveAccessTest, ClassRulesRelaxOnlyTheirClass) {
  Policy p;
  p.rules.push_back(MakeRule("cd read", Action::kReadOnly, {DeviceClass::kOptical}));
  p.rules.push_back(MakeRule("no phones", Action::kBlock, {DeviceClass::kStillImage}));
  const auto a = DeriveRemovableStorageAccess(p);
  EXPECT_EQ(a.removable_disks, Action::kBlock);
  EXPECT_EQ(a.cd_dvd, Action::kReadOnly);
  EXPECT_EQ(a.wpd, Action::kBlock);
}

TEST(RegistryValuesTest, BlockAndReadOnly) {
  RemovableStorageAccess a;
  a.cd_dvd = Action::kReadOnly;
  a.wpd = Action::kAllow;
  const auto v = RegistryValuesFor(a);
  ASSERT_EQ(v.size(), 8u);
  EXPECT_EQ(v[0], (RegistryPolicyValue{kDisks, "Deny_Read", RegistryValue::Dword(1)}));
  EXPECT_EQ(v[1], (RegistryPolicyValue{kDisks, "Deny_Write", RegistryValue::Dword(1)}));
  EXPECT_NE(v[2].key.find("{53f56308-b6bf-11d0-94f2-00a0c91efb8b}"), std::string::npos);
  EXPECT_EQ(v[2].value, RegistryValue::Dword(0));  // CD/DVD read allowed
  EXPECT_EQ(v[3].value, RegistryValue::Dword(1));  // CD/DVD write denied
  EXPECT_NE(v[4].key.find("{6AC27878-A6FA-4155-BA85-F98F491D4F33}"), std::string::npos);
  EXPECT_NE(v[6].key.find("{F33FDC04-D1AC-4E8E-9A30-19BBD4B108AE}"), std::string::npos);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(v[i].value, RegistryValue::Dword(0));
}

TEST(RegistryEnforcerTest, ApplyWritesAndVerifies) {
  FakeRegistry reg;
  RegistryPolicyEnforcer e(reg);
  const auto desired = RegistryValuesFor({});
  ASSERT_TRUE(e.Apply(desired));
  EXPECT_EQ(reg.values.size(), 8u);
  auto drift = e.Verify(desired);
  ASSERT_TRUE(drift.ok());
  EXPECT_TRUE(drift->empty());
}

TEST(RegistryEnforcerTest, ApplyFailsWhenWritesDoNotStick) {
  FakeRegistry reg;
  reg.ignore_writes = true;
  RegistryPolicyEnforcer e(reg);
  const Status s = e.Apply(RegistryValuesFor({}));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("expected 1, found missing"), std::string::npos);
}

TEST(RegistryEnforcerTest, ApplyReportsWriteErrors) {
  FakeRegistry reg;
  reg.fail_writes = true;
  RegistryPolicyEnforcer e(reg);
  const Status s = e.Apply(RegistryValuesFor({}));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);
}

TEST(RegistryEnforcerTest, DetectsAndRestoresTampering) {
  FakeRegistry reg;
  RegistryPolicyEnforcer e(reg);
  const auto desired = RegistryValuesFor({});
  ASSERT_TRUE(e.Apply(desired));
  reg.values[{kDisks, "Deny_Write"}] = RegistryValue::Dword(0);
  reg.values.erase({kDisks, "Deny_Read"});
  auto drift = e.CheckAndRestore(desired);
  ASSERT_TRUE(drift.ok()) << drift.error().message;
  ASSERT_EQ(drift->size(), 2u);
  EXPECT_EQ((*drift)[0].Describe(), kDisks + "\\Deny_Read: expected 1, found missing");
  EXPECT_EQ((*drift)[1].Describe(), kDisks + "\\Deny_Write: expected 1, found 0");
  EXPECT_TRUE(e.Verify(desired)->empty());
  // Nothing drifted: nothing reported, nothing written.
  const int writes = reg.writes;
  EXPECT_TRUE(e.CheckAndRestore(desired)->empty());
  EXPECT_EQ(reg.writes, writes);
}

TEST(RegistryEnforcerTest, WrongTypeIsDrift) {
  FakeRegistry reg;
  RegistryPolicyEnforcer e(reg);
  const auto desired = RegistryValuesFor({});
  ASSERT_TRUE(e.Apply(desired));
  reg.values[{kDisks, "Deny_Read"}] = RegistryValue::Other();
  auto drift = e.CheckAndRestore(desired);
  ASSERT_TRUE(drift.ok());
  ASSERT_EQ(drift->size(), 1u);
  EXPECT_NE((*drift)[0].Describe().find("another type"), std::string::npos);
}

TEST(RegistryEnforcerTest, RestoreFailureIsAnError) {
  FakeRegistry reg;
  RegistryPolicyEnforcer e(reg);
  const auto desired = RegistryValuesFor({});
  ASSERT_TRUE(e.Apply(desired));
  reg.values.erase({kDisks, "Deny_Read"});
  reg.fail_writes = true;
  auto drift = e.CheckAndRestore(desired);
  ASSERT_FALSE(drift.ok());
  EXPECT_NE(drift.error().message.find("could not restore"), std::string::npos);
}

TEST(RegistryEnforcerTest, ReadErrorsPropagate) {
  FakeRegistry reg;
  reg.fail_reads = true;
  RegistryPolicyEnforcer e(reg);
  EXPECT_FALSE(e.Verify(RegistryValuesFor({})).ok());
}

TEST(RegistryEnforcerTest, StringValuesAndAbsenceAreVerified) {
  FakeRegistry reg;
  RegistryPolicyEnforcer e(reg);
  const std::vector<RegistryPolicyValue> desired = {
      {"K", "1", RegistryValue::String("{4d36e967-e325-11ce-bfc1-08002be10318}")},
      {"K", "2", RegistryValue::Missing()},
  };
  reg.values[{"K", "2"}] = RegistryValue::String("{left-over}");
  ASSERT_TRUE(e.Apply(desired));
  EXPECT_EQ(reg.values.size(), 1u);  // "2" deleted, "1" written

  // A value added where the agent wants none is drift, and is removed.
  reg.values[{"K", "2"}] = RegistryValue::Dword(0);
  reg.values[{"K", "1"}] = RegistryValue::String("{another}");
  auto drift = e.CheckAndRestore(desired);
  ASSERT_TRUE(drift.ok()) << drift.error().message;
  ASSERT_EQ(drift->size(), 2u);
  EXPECT_EQ((*drift)[0].Describe(),
            "K\\1: expected \"{4d36e967-e325-11ce-bfc1-08002be10318}\", found \"{another}\"");
  EXPECT_EQ((*drift)[1].Describe(), "K\\2: expected missing, found 0");
  EXPECT_FALSE(reg.values.contains({"K", "2"}));
  EXPECT_TRUE(e.Verify(desired)->empty());
}

TEST(RegistryLineTest, CombinesStorageAccessAndInstallRestrictions) {
  const auto line = RegistryLineFor(BuiltinDefaultPolicy());
  ASSERT_EQ(line.size(), 8u + 5u + 2u + kMaxAllowedInstanceIds);
  EXPECT_EQ(line[0].key, kDisks);
  EXPECT_EQ(line[8].key, "SOFTWARE\\Policies\\Microsoft\\Windows\\DeviceInstall\\Restrictions");
  EXPECT_EQ(line[8].name, "DenyDeviceClasses");
  EXPECT_EQ(line[8].value, RegistryValue::Dword(1));
}

}  // namespace
}  // namespace mamori
