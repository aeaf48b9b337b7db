// SetupAPI under Wine: the calls work, whatever few devices Wine has.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "agent/platform/windows/device/device_id.h"
#include "agent/platform/windows/device/device_manager.h"
#include "agent/platform/windows/device/windows_device_backend.h"

namespace mamori {
namespace {

TEST(SetupApiSystemTest, ListPresentSucceeds) {
  SetupApiDeviceManager devices;
  auto nodes = devices.ListPresent();
  ASSERT_TRUE(nodes.ok()) << nodes.error().message;
  for (const DevNode& n : *nodes) {
    EXPECT_FALSE(n.instance_id.empty());
    EXPECT_LE(n.instance_id.size(), 3 * kMaxDeviceIdChars);  // UTF-8 of at most 200 UTF-16 units
  }
  std::cout << "[ info ] Wine reports " << nodes->size() << " present device nodes\n";
}

TEST(SetupApiSystemTest, EveryPresentNodeCanBeLocated) {
  SetupApiDeviceManager devices;
  auto nodes = devices.ListPresent();
  ASSERT_TRUE(nodes.ok());
  for (const DevNode& n : *nodes) {
    auto disabled = devices.IsDisabled(n.instance_id);
    EXPECT_TRUE(disabled.ok()) << n.instance_id << ": " << disabled.error().message;
  }
}

TEST(SetupApiSystemTest, UnknownDeviceIsAnError) {
  SetupApiDeviceManager devices;
  EXPECT_FALSE(devices.IsDisabled("USB\\VID_FFFF&PID_FFFF\\MAMORI-NO-SUCH-DEVICE").ok());
  const Status s = devices.SetEnabled("USB\\VID_FFFF&PID_FFFF\\MAMORI-NO-SUCH-DEVICE", false);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
}

TEST(SetupApiSystemTest, InterfaceListsSucceedForEveryWatchedClass) {
  SetupApiDeviceManager devices;
  auto nodes = devices.ListPresent();
  ASSERT_TRUE(nodes.ok());
  for (InterfaceClass cls : kWatchedInterfaceClasses) {
    auto ifaces = devices.ListInterfaces(cls);
    ASSERT_TRUE(ifaces.ok()) << InterfaceClassName(cls) << ": " << ifaces.error().message;
    std::cout << "[ info ] Wine has " << ifaces->size() << " present " << InterfaceClassName(cls)
              << " interfaces\n";
    for (const DeviceInterface& i : *ifaces) {
      EXPECT_FALSE(i.path.empty());
      // Every interface belongs to a present node.
      EXPECT_TRUE(std::any_of(nodes->begin(), nodes->end(),
                              [&](const DevNode& n) { return n.instance_id == i.instance_id; }))
          << i.path << " -> " << i.instance_id;
    }
  }
}

TEST(SetupApiSystemTest, BackendEnumeratesWithoutErrors) {
  SetupApiDeviceManager devices;
  Win32DiskControl disks;
  WindowsDeviceBackend backend(devices, disks, nullptr);
  ASSERT_TRUE(backend.Start([] {}));
  for (const ObservedDevice& d : backend.Enumerate()) {
    EXPECT_FALSE(d.device_id.empty());
  }
  backend.Stop();
}

}  // namespace
}  // namespace mamori

namespace mamori {
namespace {

// Disabling a real node under Wine: either the node reads back disabled
// (and is re-enabled), or the failure surfaces as an error. What must never
// happen is a reported success with the node still enabled.
TEST(SetupApiSystemTest, DisableIsConfirmedOrFailsLoudly) {
  SetupApiDeviceManager devices;
  auto nodes = devices.ListPresent();
  ASSERT_TRUE(nodes.ok());
  const DevNode* target = nullptr;
  for (const DevNode& n : *nodes) {
    if (n.instance_id.rfind("WINEBUS\\", 0) == 0 && !n.disabled) target = &n;
  }
  // A fresh Wine prefix always has winebus devices; without one the test
  // would prove nothing, so that is a failure, not a skip.
  ASSERT_NE(target, nullptr) << "no enabled WINEBUS device node to try";
  const Status s = devices.SetEnabled(target->instance_id, false);
  auto disabled = devices.IsDisabled(target->instance_id);
  std::cout << "[ info ] disable " << target->instance_id << ": " << (s ? "ok" : s.error().message)
            << "; reads back "
            << (disabled.ok() ? (*disabled ? "disabled" : "enabled") : disabled.error().message)
            << "\n";
  if (s) {
    // Reported success must mean the node really is disabled.
    ASSERT_TRUE(disabled.ok()) << disabled.error().message;
    EXPECT_TRUE(*disabled) << "disable reported success but the node reads back enabled";
    if (*disabled) {
      EXPECT_TRUE(devices.SetEnabled(target->instance_id, true));
    }
  }
}

}  // namespace
}  // namespace mamori
