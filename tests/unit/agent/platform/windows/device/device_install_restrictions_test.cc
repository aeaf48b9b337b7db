#include "agent/platform/windows/device/device_install_restrictions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "common/policy/rule_engine.h"
#include "tests/mocks/fake_registry.h"

namespace mamori {
namespace {

const std::string kRestrictions =
    "SOFTWARE\\Policies\\Microsoft\\Windows\\DeviceInstall\\Restrictions";
const std::string kList = kRestrictions + "\\DenyDeviceClasses";

Rule ClassRule(Action action, std::vector<DeviceClass> classes) {
  Rule r;
  r.name = "r";
  r.action = action;
  r.match.classes = std::move(classes);
  return r;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(DeviceInstallTest, DefaultPolicyDeniesTheThreeStorageClasses) {
  const auto v = DeviceInstallValuesFor(DeriveRemovableStorageAccess(BuiltinDefaultPolicy()));
  // The class denial, then the (unused) per-device allow list.
  ASSERT_EQ(v.size(), 5u + 2u + kMaxAllowedInstanceIds);
  EXPECT_EQ(v[0],
            (RegistryPolicyValue{kRestrictions, "DenyDeviceClasses", RegistryValue::Dword(1)}));
  EXPECT_EQ(v[1], (RegistryPolicyValue{kRestrictions, "DenyDeviceClassesRetroactive",
                                       RegistryValue::Dword(0)}));
  EXPECT_EQ(v[2],
            (RegistryPolicyValue{kList, "1",
                                 RegistryValue::String("{4d36e967-e325-11ce-bfc1-08002be10318}")}));
  EXPECT_EQ(v[3],
            (RegistryPolicyValue{kList, "2",
                                 RegistryValue::String("{4d36e965-e325-11ce-bfc1-08002be10318}")}));
  EXPECT_EQ(v[4],
            (RegistryPolicyValue{kList, "3",
                                 RegistryValue::String("{eec5ad98-8080-425f-922a-dabf3de3f69a}")}));
}

TEST(DeviceInstallTest, ReadOnlyOrAllowedClassesStayInstallable) {
  // A read-only rule for optical drives: CD/DVD drives need their driver
  // to be read, so only disks and WPD are denied, packed from "1".
  Policy p;
  p.rules.push_back(ClassRule(Action::kReadOnly, {DeviceClass::kOptical}));
  const auto v = DeviceInstallValuesFor(DeriveRemovableStorageAccess(p));
  EXPECT_EQ(v[0].value, RegistryValue::Dword(1));
  EXPECT_EQ(v[2].value, RegistryValue::String(std::string(kDiskDriveSetupClass)));
  EXPECT_EQ(v[3].value, RegistryValue::String(std::string(kWpdSetupClass)));
  EXPECT_EQ(v[4].value, RegistryValue::Missing());
}

TEST(DeviceInstallTest, NothingDeniedLeavesNoValues) {
  Policy p;
  p.default_storage_action = Action::kAllow;
  const auto v = DeviceInstallValuesFor(DeriveRemovableStorageAccess(p));
  ASSERT_EQ(v.size(), 5u + 2u + kMaxAllowedInstanceIds);
  for (const RegistryPolicyValue& value : v) {
    EXPECT_EQ(value.value, RegistryValue::Missing()) << value.key << "\\" << value.name;
  }
}

TEST(DeviceInstallTest, RegisteredMediaRuleKeepsDisksInstallable) {
  // Registered sticks must be able to install their driver the first time.
  Policy p;
  Rule r;
  r.name = "ledger";
  r.action = Action::kAllow;
  r.match.registered_media = true;
  p.rules.push_back(r);
  EXPECT_TRUE(DeniedSetupClasses(DeriveRemovableStorageAccess(p)).empty());
}

// Whatever the policy, nothing that could keep a keyboard or mouse from
// installing is ever written.
TEST(DeviceInstallTest, NeverLocksOutInputDevices) {
  const std::vector<std::string> forbidden_classes = {
      "{745a17a0-74d3-11d0-b6fe-00a0c90f57da}",  // HIDClass
      "{4d36e96b-e325-11ce-bfc1-08002be10318}",  // Keyboard
      "{4d36e96f-e325-11ce-bfc1-08002be10318}",  // Mouse
      "{36fc9e60-c465-11cf-8056-444553540000}",  // USB (controllers, hubs, composite parents)
  };
  const std::vector<std::string> forbidden_names = {"DenyRemovableDevices", "DenyUnspecified",
                                                    "DenyDeviceIDs", "DenyInstanceIDs"};
  for (Action def : {Action::kBlock, Action::kReadOnly, Action::kAllow}) {
    for (Action rule : {Action::kBlock, Action::kReadOnly, Action::kAllow}) {
      for (DeviceClass cls : {DeviceClass::kHid, DeviceClass::kHub, DeviceClass::kMassStorage,
                              DeviceClass::kOptical, DeviceClass::kStillImage}) {
        Policy p;
        p.default_storage_action = def;
        p.rules.push_back(ClassRule(rule, {cls}));
        for (const RegistryPolicyValue& v : RegistryLineFor(p)) {
          for (const std::string& name : forbidden_names) EXPECT_NE(v.name, name);
          if (v.name == "DenyDeviceClassesRetroactive") {
            EXPECT_NE(v.value, RegistryValue::Dword(1)) << "retroactive removal";
          }
          if (v.value.type == RegistryValue::Type::kString) {
            for (const std::string& g : forbidden_classes) EXPECT_NE(Lower(v.value.text), g);
          }
        }
      }
    }
  }
}

// The network ways out are closed per device, never class-wide: a class
// denial would also hold back the built-in NIC's drivers (and, retroactive,
// remove it). The card and fingerprint readers' classes stay installable.
TEST(DeviceInstallTest, NeverDeniesNetworkRadioSerialOrReaderClasses) {
  const std::vector<std::string_view> forbidden_classes = {
      kNetSetupClass,   kBluetoothSetupClass,       kPortsSetupClass,
      kModemSetupClass, kSmartCardReaderSetupClass, kBiometricSetupClass,
  };
  const std::vector<DeviceClass> ways_out = {DeviceClass::kNetwork, DeviceClass::kWifi,
                                             DeviceClass::kBluetooth, DeviceClass::kSerial,
                                             DeviceClass::kWireless};
  for (Action other : {Action::kBlock, Action::kAllow}) {
    Policy p;  // everything blocked that a policy can block
    p.default_storage_action = Action::kBlock;
    p.default_other_action = other;
    p.rules.push_back(ClassRule(Action::kBlock, ways_out));
    p.rules.push_back(
        ClassRule(Action::kAllow, {DeviceClass::kSmartCard, DeviceClass::kBiometric}));
    const auto line = RegistryLineFor(p);
    bool denies_storage = false;
    for (const RegistryPolicyValue& v : line) {
      if (v.name == "DenyDeviceClassesRetroactive") {
        EXPECT_EQ(v.value, RegistryValue::Dword(0)) << "retroactive removal";
      }
      if (v.value.type != RegistryValue::Type::kString) continue;
      denies_storage |= Lower(v.value.text) == kDiskDriveSetupClass;
      for (std::string_view g : forbidden_classes) {
        EXPECT_NE(Lower(v.value.text), g) << v.key << "\\" << v.name;
      }
    }
    EXPECT_TRUE(denies_storage);  // the storage classes are still denied
  }
}

TEST(DeviceInstallTest, RelaxingThePolicyRemovesTheDenial) {
  FakeRegistry reg;
  RegistryPolicyEnforcer e(reg);
  ASSERT_TRUE(e.Apply(RegistryLineFor(BuiltinDefaultPolicy())));
  EXPECT_TRUE(reg.values.contains({kList, "3"}));
  Policy open;
  open.default_storage_action = Action::kAllow;
  ASSERT_TRUE(e.Apply(RegistryLineFor(open)));
  for (const auto& [where, value] : reg.values) {
    EXPECT_EQ(where.first.find("DeviceInstall"), std::string::npos) << where.first;
  }
}

const std::string kStick = "USB\\VID_0781&PID_5581\\4C530001231120115142";
const std::string kStickDisk =
    "USBSTOR\\DISK&VEN_SANDISK&PROD_ULTRA&REV_1.00\\4C530001231120115142&0";
const std::string kAllowList = kRestrictions + "\\AllowInstanceIDs";

ExceptionAllowance StickAllowance() {
  return ExceptionAllowance{{kStick, kStickDisk}, {DeviceClass::kMassStorage}};
}

const RegistryPolicyValue* Find(const std::vector<RegistryPolicyValue>& line,
                                const std::string& key, const std::string& name) {
  for (const RegistryPolicyValue& v : line) {
    if (v.key == key && v.name == name) return &v;
  }
  return nullptr;
}

// An excepted stick gets its own way through: its nodes are allowed by
// instance id under the layered order, while DiskDrive stays denied for
// every other device, and removable disks become readable only because the
// stick is plugged in.
TEST(DeviceInstallTest, ExceptionAllowsTheDeviceNodesAndKeepsTheClassDenied) {
  const auto line = RegistryLineFor(BuiltinDefaultPolicy(), StickAllowance());
  ASSERT_NE(Find(line, kList, "1"), nullptr);
  EXPECT_EQ(Find(line, kList, "1")->value,
            RegistryValue::String(std::string(kDiskDriveSetupClass)));
  EXPECT_EQ(Find(line, kRestrictions, "DenyDeviceClasses")->value, RegistryValue::Dword(1));
  EXPECT_EQ(Find(line, kRestrictions, "AllowDenyLayered")->value, RegistryValue::Dword(1));
  EXPECT_EQ(Find(line, kRestrictions, "AllowInstanceIDs")->value, RegistryValue::Dword(1));
  EXPECT_EQ(Find(line, kAllowList, "1")->value, RegistryValue::String(kStick));
  EXPECT_EQ(Find(line, kAllowList, "2")->value, RegistryValue::String(kStickDisk));
  EXPECT_EQ(Find(line, kAllowList, "3")->value, RegistryValue::Missing());
  EXPECT_EQ(Find(line, kAllowList, std::to_string(kMaxAllowedInstanceIds))->value,
            RegistryValue::Missing());
  EXPECT_EQ(Find(line, kAllowList, std::to_string(kMaxAllowedInstanceIds + 1)), nullptr);
  // Never a deny list or hardware ids, which would name a whole model.
  for (const RegistryPolicyValue& v : line) {
    EXPECT_NE(v.name, "AllowDeviceIDs");
    EXPECT_NE(v.name, "DenyRemovableDevices");
  }

  const RemovableStorageAccess relaxed =
      RelaxForExceptions(DeriveRemovableStorageAccess(BuiltinDefaultPolicy()), StickAllowance());
  EXPECT_EQ(relaxed.removable_disks, Action::kAllow);
  EXPECT_EQ(relaxed.cd_dvd, Action::kBlock);  // a stick does not open CD/DVD
  EXPECT_EQ(relaxed.wpd, Action::kBlock);
  const std::string disks = "SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\" +
                            std::string(kRemovableDisksClass.guid);
  EXPECT_EQ(Find(line, disks, "Deny_Read")->value, RegistryValue::Dword(0));
  EXPECT_EQ(Find(line, disks, "Deny_Write")->value, RegistryValue::Dword(0));
}

TEST(DeviceInstallTest, ExceptionForAPhoneOpensOnlyWpd) {
  const ExceptionAllowance phone{{"USB\\VID_04E8&PID_6860\\R58M"}, {DeviceClass::kStillImage}};
  const RemovableStorageAccess relaxed =
      RelaxForExceptions(DeriveRemovableStorageAccess(BuiltinDefaultPolicy()), phone);
  EXPECT_EQ(relaxed.wpd, Action::kAllow);
  EXPECT_EQ(relaxed.removable_disks, Action::kBlock);
  EXPECT_EQ(relaxed.cd_dvd, Action::kBlock);
}

TEST(DeviceInstallTest, WithoutAnExceptionNoAllowValueExists) {
  for (const RegistryPolicyValue& v : RegistryLineFor(BuiltinDefaultPolicy(), {})) {
    if (v.name == "AllowDenyLayered" || v.name == "AllowInstanceIDs" || v.key == kAllowList) {
      EXPECT_EQ(v.value, RegistryValue::Missing()) << v.key << "\\" << v.name;
    }
  }
}

// Instance ids come partly from the device (its serial): one that is not
// an instance id is left out, and the list stops at its last slot.
TEST(DeviceInstallTest, HostileInstanceIdsAreLeftOutAndTheListIsBounded) {
  std::vector<std::string> ids = {"", std::string(kMaxInstanceIdLength + 1, 'A'),
                                  "USB\\VID_1\\bad\nline", "USB\\VID_1\\bad\x7f"};
  for (std::size_t i = 0; i < kMaxAllowedInstanceIds + 5; ++i)
    ids.push_back("ID" + std::to_string(i));
  const auto v = DeviceInstallValuesFor(RemovableStorageAccess{}, ids);
  std::vector<std::string> listed;
  for (const RegistryPolicyValue& x : v) {
    if (x.key == kAllowList && x.value.type == RegistryValue::Type::kString) {
      listed.push_back(x.value.text);
    }
  }
  ASSERT_EQ(listed.size(), kMaxAllowedInstanceIds);
  EXPECT_EQ(listed.front(), "ID0");
  EXPECT_EQ(listed.back(), "ID" + std::to_string(kMaxAllowedInstanceIds - 1));

  // Only unusable ids: as if there were none.
  const std::vector<std::string> bad = {"", "x\ty"};
  for (const RegistryPolicyValue& x : DeviceInstallValuesFor(RemovableStorageAccess{}, bad)) {
    if (x.name == "AllowDenyLayered" || x.key == kAllowList) {
      EXPECT_EQ(x.value, RegistryValue::Missing());
    }
  }
}

// When the exception ends (or the stick is unplugged) the line closes
// again: no allow value is left behind and removable disks are denied.
TEST(DeviceInstallTest, EndOfTheExceptionClosesTheLineAgain) {
  FakeRegistry reg;
  RegistryPolicyEnforcer e(reg);
  ASSERT_TRUE(e.Apply(RegistryLineFor(BuiltinDefaultPolicy(), StickAllowance())));
  EXPECT_TRUE(reg.values.contains({kAllowList, "2"}));
  ASSERT_TRUE(e.Apply(RegistryLineFor(BuiltinDefaultPolicy())));
  for (const auto& [where, value] : reg.values) {
    EXPECT_EQ(where.first.find("AllowInstanceIDs"), std::string::npos) << where.first;
    EXPECT_NE(where.second, "AllowDenyLayered");
    EXPECT_NE(where.second, "AllowInstanceIDs");
  }
  const std::string disks = "SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\" +
                            std::string(kRemovableDisksClass.guid);
  EXPECT_EQ(reg.values.at({disks, "Deny_Read"}), RegistryValue::Dword(1));
  EXPECT_TRUE(reg.values.contains({kList, "1"}));
}

}  // namespace
}  // namespace mamori
