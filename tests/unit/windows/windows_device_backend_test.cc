#include "agent/platform/windows/windows_device_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace mamori {
namespace {

// A PnP tree in memory. SetEnabled flips `disabled` unless told to fail or
// to pretend (a driver that refuses to stop: the call succeeds, the state
// does not change).
class FakeDeviceManager final : public DeviceManager {
 public:
  Result<std::vector<DevNode>> ListPresent() override { return nodes; }
  Status SetEnabled(std::string_view id, bool enabled) override {
    calls.push_back(std::string(enabled ? "enable " : "disable ") + std::string(id));
    if (fail_set) return MakeError(ErrorCode::kIo, "SetupDiCallClassInstaller: denied (5)");
    if (DevNode* n = Find(id); n && !ignore_set) n->disabled = !enabled;
    return Status::Ok();
  }
  Result<bool> IsDisabled(std::string_view id) override {
    if (DevNode* n = Find(id)) return n->disabled;
    return MakeError(ErrorCode::kNotFound, "no such node");
  }
  DevNode* Find(std::string_view id) {
    const auto it = std::find_if(nodes.begin(), nodes.end(),
                                 [&](const DevNode& n) { return n.instance_id == id; });
    return it == nodes.end() ? nullptr : &*it;
  }

  std::vector<DevNode> nodes;
  std::vector<std::string> calls;
  bool fail_set = false;
  bool ignore_set = false;
};

const char kHub[] = "USB\\ROOT_HUB30\\4&1a2b3c4d&0&0";
const char kStick[] = "USB\\VID_0781&PID_5581\\4C530001231120115142";
const char kStickDisk[] = "USBSTOR\\Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00\\4C530001231120115142&0";
const char kCombo[] = "USB\\VID_046D&PID_C31C\\5&2a3b4c5d&0&2";
const char kComboKbd[] = "USB\\VID_046D&PID_C31C&MI_00\\6&11111111&0&0000";
const char kComboStor[] = "USB\\VID_046D&PID_C31C&MI_01\\6&11111111&0&0001";
const char kComboDisk[] = "USBSTOR\\Disk&Ven_Logi&Prod_Hidden_Disk&Rev_0001\\7&22222222&0";

std::vector<DevNode> Tree() {
  return {
      {"PCI\\VEN_8086&DEV_A36D\\3&11583659&0&A0", "HTREE\\ROOT\\0", {}, {}, false},
      {kHub, "PCI\\VEN_8086&DEV_A36D\\3&11583659&0&A0", {"USB\\ROOT_HUB30"}, {}, false},
      {kStick,
       kHub,
       {"USB\\VID_0781&PID_5581&REV_0100", "USB\\VID_0781&PID_5581"},
       {"USB\\Class_08&SubClass_06&Prot_50", "USB\\Class_08&SubClass_06", "USB\\Class_08"},
       false},
      {kStickDisk, kStick, {}, {"USBSTOR\\Disk", "GenDisk"}, false},
      {kCombo, kHub, {}, {"USB\\DevClass_00&SubClass_00&Prot_00", "USB\\COMPOSITE"}, false},
      {kComboKbd, kCombo, {}, {"USB\\Class_03&SubClass_01&Prot_01"}, false},
      {kComboStor, kCombo, {}, {"USB\\Class_08&SubClass_06&Prot_50"}, false},
      {kComboDisk, kComboStor, {}, {}, false},
  };
}

class WindowsBackendTest : public ::testing::Test {
 protected:
  WindowsBackendTest() { devices_.nodes = Tree(); }
  ObservedDevice Observed(std::string_view id) {
    for (ObservedDevice& d : backend_.Enumerate()) {
      if (d.device_id == id) return d;
    }
    ADD_FAILURE() << "not enumerated: " << id;
    return {};
  }
  FakeDeviceManager devices_;
  WindowsDeviceBackend backend_{devices_};
};

TEST_F(WindowsBackendTest, EnumeratesUsbDevicesOnly) {
  const auto devices = backend_.Enumerate();
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0].device_id, kStick);
  EXPECT_EQ(devices[1].device_id, kCombo);
  EXPECT_EQ(backend_.Name(), "windows-setupapi");
}

TEST_F(WindowsBackendTest, StickIdentity) {
  const DeviceIdentity id = Observed(kStick).identity;
  EXPECT_EQ(id.VidPid(), "0781:5581");
  EXPECT_EQ(id.serial, "4C530001231120115142");
  EXPECT_EQ(id.manufacturer, "SanDisk");
  EXPECT_EQ(id.product, "Ultra");
  EXPECT_EQ(id.device_class, DeviceClass::kMassStorage);
  EXPECT_EQ(id.interface_classes, std::vector<DeviceClass>{DeviceClass::kMassStorage});
  EXPECT_TRUE(id.HasStorage());
}

TEST_F(WindowsBackendTest, CompositeIdentity) {
  const DeviceIdentity id = Observed(kCombo).identity;
  EXPECT_EQ(id.VidPid(), "046d:c31c");
  EXPECT_EQ(id.serial, "");  // Windows generated the instance part
  EXPECT_EQ(id.product, "Hidden Disk");
  EXPECT_EQ(id.device_class, DeviceClass::kMassStorage);  // most sensitive interface
  EXPECT_EQ(id.interface_classes,
            (std::vector<DeviceClass>{DeviceClass::kHid, DeviceClass::kMassStorage}));
}

TEST_F(WindowsBackendTest, BlockDisablesAndConfirms) {
  Decision d;
  d.action = Action::kBlock;
  ASSERT_TRUE(backend_.Apply(Observed(kStick), d));
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
  EXPECT_EQ(devices_.calls, std::vector<std::string>{std::string("disable ") + kStick});
  // Already disabled: nothing to do.
  ASSERT_TRUE(backend_.Apply(Observed(kStick), d));
  EXPECT_EQ(devices_.calls.size(), 1u);
}

TEST_F(WindowsBackendTest, AllowReenablesADisabledDevice) {
  devices_.Find(kStick)->disabled = true;
  Decision d;
  d.action = Action::kAllow;
  ASSERT_TRUE(backend_.Apply(Observed(kStick), d));
  EXPECT_FALSE(devices_.Find(kStick)->disabled);
}

TEST_F(WindowsBackendTest, DisableThatDoesNotTakeIsAnEnforcementFailure) {
  devices_.ignore_set = true;
  Decision d;
  d.action = Action::kBlock;
  const Status s = backend_.Apply(Observed(kStick), d);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("still enabled"), std::string::npos) << s.error().message;
}

TEST_F(WindowsBackendTest, SetupApiErrorIsAnEnforcementFailure) {
  devices_.fail_set = true;
  Decision d;
  d.action = Action::kBlock;
  const Status s = backend_.Apply(Observed(kStick), d);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("denied"), std::string::npos);
}

TEST_F(WindowsBackendTest, CompositeKeepsAllowedInterfaces) {
  Decision d;
  d.action = Action::kBlock;
  d.allowed_interface_classes = {DeviceClass::kHid};
  ASSERT_TRUE(backend_.Apply(Observed(kCombo), d));
  EXPECT_FALSE(devices_.Find(kCombo)->disabled);
  EXPECT_FALSE(devices_.Find(kComboKbd)->disabled);
  EXPECT_TRUE(devices_.Find(kComboStor)->disabled);
}

TEST_F(WindowsBackendTest, ReadOnlyIsReportedAsNotImplemented) {
  Decision d;
  d.action = Action::kReadOnly;
  const Status s = backend_.Apply(Observed(kStick), d);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(WindowsBackendTest, GoneDevice) {
  const ObservedDevice stick = Observed(kStick);
  devices_.nodes.erase(devices_.nodes.begin() + 2);
  Decision d;
  d.action = Action::kBlock;
  const Status s = backend_.Apply(stick, d);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
}

TEST(IdentityFromDevNodesTest, HostileIdsDoNotCrash) {
  std::vector<DevNode> nodes;
  DevNode usb{"USB\\VID_0781&PID_5581\\" + std::string(100000, '\xFF'), "", {}, {}, false};
  nodes.push_back(usb);
  nodes.push_back(
      {std::string(100000, '\\'), usb.instance_id, {}, {std::string(5000, '&')}, false});
  const DeviceIdentity id = IdentityFromDevNodes(usb, nodes);
  EXPECT_EQ(id.vendor_id, 0);  // the oversized id is rejected as a whole
}

}  // namespace
}  // namespace mamori
