// Device control calls against Wine: notification registration and
// delivery through a real window, the WTS user lookup, and the disk IOCTLs.
// Wine has no removable disks, so the IOCTL tests check what can be checked:
// errors are reported, never a false success.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "agent/platform/windows/device/cm_notification.h"
#include "agent/platform/windows/device/disk_attributes.h"
#include "agent/platform/windows/device/windows_device_backend.h"
#include "agent/platform/windows/win32/session_user.h"
#include "common/policy/policy.h"
#include "common/policy/rule_engine.h"

namespace mamori {
namespace {

class Collected {
 public:
  void Add(const DeviceNotification& n) {
    std::lock_guard lock(mu_);
    items_.push_back(n);
    cv_.notify_all();
  }
  std::vector<DeviceNotification> Items() {
    std::lock_guard lock(mu_);
    return items_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<DeviceNotification> items_;
};

std::vector<unsigned char> Broadcast(InterfaceClass cls, std::wstring_view name) {
  const std::size_t offset = offsetof(DEV_BROADCAST_DEVICEINTERFACE_W, dbcc_name);
  std::vector<unsigned char> buf(offset + (name.size() + 1) * sizeof(wchar_t) + 8, 0);
  DEV_BROADCAST_DEVICEINTERFACE_W head{};
  head.dbcc_size = static_cast<DWORD>(offset + (name.size() + 1) * sizeof(wchar_t));
  head.dbcc_devicetype = DBT_DEVTYP_DEVICEINTERFACE;
  head.dbcc_classguid = InterfaceClassGuid(cls);
  std::memcpy(buf.data(), &head, offset);
  std::memcpy(buf.data() + offset, name.data(), name.size() * sizeof(wchar_t));
  return buf;
}

TEST(NotificationSystemTest, WindowSourceRegistersAndDeliversInjectedEvents) {
  Collected got;
  WindowNotificationSource source;
  const Status s = source.Start([&](const DeviceNotification& n) { got.Add(n); });
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_NE(source.window(), nullptr);

  // As the system sends them: WM_DEVICECHANGE with the broadcast.
  auto disk = Broadcast(InterfaceClass::kDisk, L"\\\\?\\USBSTOR#Disk&Ven_X#1&0#{53f56307}");
  auto wpd = Broadcast(InterfaceClass::kWpd, L"\\\\?\\USB#VID_04E8&PID_6860#R58M#{6ac27878}");
  EXPECT_EQ(::SendMessageW(source.window(), WM_DEVICECHANGE, DBT_DEVICEARRIVAL,
                           reinterpret_cast<LPARAM>(disk.data())),
            TRUE);
  ::SendMessageW(source.window(), WM_DEVICECHANGE, DBT_DEVNODES_CHANGED, 0);  // ignored
  ::SendMessageW(source.window(), WM_DEVICECHANGE, DBT_DEVICEREMOVECOMPLETE,
                 reinterpret_cast<LPARAM>(wpd.data()));
  // SendMessageW returns after the window thread handled it.
  const auto items = got.Items();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0], (DeviceNotification{DeviceNotification::Kind::kArrival, InterfaceClass::kDisk,
                                          "\\\\?\\USBSTOR#Disk&Ven_X#1&0#{53f56307}"}));
  EXPECT_EQ(items[1].kind, DeviceNotification::Kind::kRemoval);
  EXPECT_EQ(items[1].cls, InterfaceClass::kWpd);

  source.Stop();
  EXPECT_EQ(source.window(), nullptr);
  source.Stop();  // idempotent
}

TEST(NotificationSystemTest, WindowSourceRestarts) {
  Collected got;
  WindowNotificationSource source;
  ASSERT_TRUE(source.Start([&](const DeviceNotification& n) { got.Add(n); }));
  source.Stop();
  ASSERT_TRUE(source.Start([&](const DeviceNotification& n) { got.Add(n); }));
  auto vol = Broadcast(InterfaceClass::kVolume, L"\\\\?\\STORAGE#Volume#1");
  ::SendMessageW(source.window(), WM_DEVICECHANGE, DBT_DEVICEARRIVAL,
                 reinterpret_cast<LPARAM>(vol.data()));
  EXPECT_EQ(got.Items().size(), 1u);
}

// The whole path with real Win32 messaging: a WM_DEVICECHANGE delivered to
// the notification window reaches the backend's worker, which tells the
// core.
TEST(NotificationSystemTest, BackendHearsOfInjectedArrivals) {
  SetupApiDeviceManager devices;
  Win32DiskControl disks;
  WindowNotificationSource source;
  WindowsDeviceBackend backend(devices, disks, &source);
  std::mutex mu;
  std::condition_variable cv;
  int changes = 0;
  ASSERT_TRUE(backend.Start([&] {
    std::lock_guard lock(mu);
    ++changes;
    cv.notify_all();
  }));
  (void)backend.Enumerate();
  ASSERT_NE(source.window(), nullptr);
  auto usb = Broadcast(InterfaceClass::kUsbDevice, L"\\\\?\\USB#VID_0781&PID_5581#4C53#{a5dcbf10}");
  ::SendMessageW(source.window(), WM_DEVICECHANGE, DBT_DEVICEARRIVAL,
                 reinterpret_cast<LPARAM>(usb.data()));
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return changes >= 1; }));
  }
  backend.Stop();
  EXPECT_EQ(source.window(), nullptr);  // the backend stopped the source
}

TEST(NotificationSystemTest, CmSourceRegistersOrSaysUnavailable) {
  CmNotificationSource source;
  const Status s = source.Start([](const DeviceNotification&) {});
  std::cout << "[ info ] CM_Register_Notification "
            << (CmNotificationAvailable() ? "present" : "missing") << "\n";
  if (CmNotificationAvailable()) {
    EXPECT_TRUE(s) << s.error().message;
  } else {
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(s.error().message.find("usb_device"), std::string::npos) << s.error().message;
  }
  source.Stop();
}

TEST(NotificationSystemTest, ServiceSourceIgnoresEventsWhenNotStarted) {
  ServiceNotificationSource source(nullptr);
  auto disk = Broadcast(InterfaceClass::kDisk, L"x");
  source.OnServiceDeviceEvent(DBT_DEVICEARRIVAL, disk.data());  // no sink: nothing happens
  source.Stop();
}

TEST(SessionUserSystemTest, ConsoleUserUnderWine) {
  // Wine reports one fixed session (the Unix user); whatever it says must
  // be well-formed, and the raw calls must agree with what we report.
  WtsSessionUser user;
  const std::string current = user.Current();
  std::cout << "[ info ] console session " << ::WTSGetActiveConsoleSessionId() << ", user \""
            << current << "\"\n";
  auto& api = SystemWtsApi();
  const auto session = api.ActiveConsoleSession();
  if (!session) {
    EXPECT_EQ(current, "");
    return;
  }
  const auto name = api.UserName(*session);
  if (!name || name->empty()) {
    EXPECT_EQ(current, "");
  } else {
    EXPECT_NE(current.find(*name), std::string::npos);
    EXPECT_EQ(current.find('\n'), std::string::npos);
  }
}

TEST(DiskControlSystemTest, MissingDiskIsNotFound) {
  Win32DiskControl disks;
  const std::string path =
      "\\\\?\\USBSTOR#Disk&Ven_Mamori&Prod_None#0&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";
  const Status s = disks.SetReadOnly(path);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound) << s.error().message;
  EXPECT_NE(s.error().message.find("CreateFileW"), std::string::npos);
  EXPECT_FALSE(disks.IsReadOnly(path).ok());
  EXPECT_FALSE(disks.QueryStorage(path).ok());
}

// Wine's only "disks" are its drive letters. A reported success of the
// read-only IOCTL must read back as read-only; a failure must be an error.
TEST(DiskControlSystemTest, IoctlsOnWinesSystemDriveFailLoudlyOrHold) {
  Win32DiskControl disks;
  for (const char* path : {"\\\\.\\PhysicalDrive0", "\\\\.\\C:"}) {
    auto props = disks.QueryStorage(path);
    auto before = disks.IsReadOnly(path);
    std::cout << "[ info ] " << path << ": query "
              << (props.ok() ? "bus " + std::to_string(props->bus_type) +
                                   (props->removable_media ? " removable" : " fixed")
                             : props.error().message)
              << "; get attributes "
              << (before.ok() ? (*before ? "read-only" : "writable") : before.error().message)
              << "\n";
    // The storage query is plain DeviceIoControl plumbing that Wine
    // implements: it must work, and Wine's disk is not removable.
    ASSERT_TRUE(props.ok()) << props.error().message;
    EXPECT_FALSE(props->removable_media);
    // Setting read-only on the prefix's C: would break the prefix if it
    // held; only ask for it on the physical drive.
    if (std::string(path) == "\\\\.\\C:") continue;
    const Status s = disks.SetReadOnly(path);
    std::cout << "[ info ] " << path << ": set read-only " << (s ? "ok" : s.error().message)
              << "\n";
    if (s) {
      auto after = disks.IsReadOnly(path);
      ASSERT_TRUE(after.ok()) << after.error().message;
      EXPECT_TRUE(*after);
    } else {
      EXPECT_FALSE(s.error().message.empty());
    }
  }
}

// Forwards to the real IOCTLs and records what the backend asked.
class RecordingDiskControl final : public DiskControl {
 public:
  Status SetReadOnly(std::string_view path) override {
    set_read_only.push_back(std::string(path));
    return real_.SetReadOnly(path);
  }
  Result<bool> IsReadOnly(std::string_view path) override { return real_.IsReadOnly(path); }
  Result<StorageProperties> QueryStorage(std::string_view path) override {
    auto props = real_.QueryStorage(path);
    std::cout << "[ info ] storage query " << path << ": "
              << (props.ok() ? StorageBusName(props->bus_type) +
                                   (props->removable_media ? " removable" : " fixed") +
                                   ", vendor \"" + props->vendor + "\", product \"" +
                                   props->product + "\", serial \"" + props->serial + "\""
                             : props.error().message)
              << "\n";
    queried.push_back(std::string(path));
    if (props.ok()) answered.push_back(*props);
    return props;
  }
  Result<uint32_t> DiskNumber(std::string_view path) override { return real_.DiskNumber(path); }
  Result<std::vector<uint32_t>> SystemDiskNumbers() override { return real_.SystemDiskNumbers(); }

  std::vector<std::string> queried;
  std::vector<StorageProperties> answered;
  std::vector<std::string> set_read_only;

 private:
  Win32DiskControl real_;
};

// The real device tree, plus Wine's disks: Wine's SetupAPI lists no disk
// interfaces, so its physical drive and its C: volume are added by their
// device paths, each as a node of its own with no parent. Records every
// state change the backend asks for.
class WineDisksDeviceManager final : public DeviceManager {
 public:
  Result<std::vector<DevNode>> ListPresent() override {
    auto nodes = real_.ListPresent();
    if (!nodes.ok()) return nodes;
    for (const DeviceInterface& d : kWineDisks)
      nodes->push_back({d.instance_id, "", {}, {}, false, {}});
    return nodes;
  }
  Status SetEnabled(std::string_view id, bool enabled) override {
    changes.push_back(std::string(enabled ? "enable " : "disable ") + std::string(id));
    return real_.SetEnabled(id, enabled);
  }
  Result<bool> IsDisabled(std::string_view id) override { return real_.IsDisabled(id); }
  Result<std::vector<DeviceInterface>> ListInterfaces(InterfaceClass cls) override {
    auto ifaces = real_.ListInterfaces(cls);
    if (!ifaces.ok() || cls != InterfaceClass::kDisk) return ifaces;
    real_disks = ifaces->size();
    ifaces->insert(ifaces->end(), kWineDisks.begin(), kWineDisks.end());
    return ifaces;
  }

  inline static const std::vector<DeviceInterface> kWineDisks = {
      {"\\\\.\\PhysicalDrive0", "SCSI\\Disk&Ven_Wine&Prod_PhysicalDrive0\\1&0&0&000000"},
      {"\\\\.\\C:", "SCSI\\Disk&Ven_Wine&Prod_Volume_C\\1&0&0&000001"},
  };
  std::vector<std::string> changes;
  std::size_t real_disks = 0;

 private:
  SetupApiDeviceManager real_;
};

// The storage identity path on Wine's disks: every disk without a USB
// device above it is queried through the real IOCTL and parsed; Wine
// reports its disks as fixed, so none is reported as a device of its own,
// and applying the built-in default to everything changes no device.
TEST(StorageIdentitySystemTest, WinesDisksAreQueriedAndNeverControlled) {
  WineDisksDeviceManager devices;
  auto before = devices.ListPresent();
  ASSERT_TRUE(before.ok()) << before.error().message;

  RecordingDiskControl disks;
  WindowsDeviceBackend backend(devices, disks, nullptr);
  const std::vector<ObservedDevice> found = backend.Enumerate();
  std::cout << "[ info ] " << before->size() << " device nodes, " << devices.real_disks
            << " disk interfaces listed by SetupAPI, " << found.size() << " devices\n";
  // Every disk was queried, and the IOCTL answered with a descriptor that
  // parses: fixed, so not controlled.
  for (const DeviceInterface& d : WineDisksDeviceManager::kWineDisks) {
    EXPECT_NE(std::find(disks.queried.begin(), disks.queried.end(), d.path), disks.queried.end())
        << d.path;
  }
  EXPECT_EQ(disks.answered.size(), disks.queried.size());
  for (const StorageProperties& p : disks.answered) {
    EXPECT_EQ(ClassOfNonUsbDisk(p), std::nullopt) << StorageBusName(p.bus_type);
  }
  for (const ObservedDevice& d : found) {
    std::cout << "[ info ] device " << d.device_id << ": "
              << DeviceClassName(d.identity.device_class) << "\n";
    EXPECT_FALSE(d.identity.HasStorage()) << d.device_id;
    EXPECT_FALSE(d.device_id.starts_with("SCSI\\Disk&Ven_Wine")) << d.device_id;
    const Decision decision = Evaluate(BuiltinDefaultPolicy(), d.identity, /*now_ms=*/0);
    const Status s = backend.Apply(d, decision);
    EXPECT_TRUE(s) << d.device_id << ": " << s.error().message;
  }
  EXPECT_EQ(devices.changes, std::vector<std::string>{});
  EXPECT_TRUE(disks.set_read_only.empty());
  auto after = devices.ListPresent();
  ASSERT_TRUE(after.ok()) << after.error().message;
  ASSERT_EQ(after->size(), before->size());
  for (std::size_t i = 0; i < after->size(); ++i) {
    EXPECT_FALSE((*after)[i].disabled) << (*after)[i].instance_id;
  }
}

TEST(StorageIdentitySystemTest, SystemDiskNumbersUnderWine) {
  Win32DiskControl disks;
  auto system = disks.SystemDiskNumbers();
  auto drive0 = disks.DiskNumber("\\\\.\\PhysicalDrive0");
  std::cout << "[ info ] system disks: "
            << (system.ok()
                    ? std::to_string(system->size()) + " (first " +
                          (system->empty() ? std::string("-") : std::to_string(system->front())) +
                          ")"
                    : system.error().message)
            << "; PhysicalDrive0 number: "
            << (drive0.ok() ? std::to_string(*drive0) : drive0.error().message) << "\n";
  // Either an answer naming at least one disk, or an error that says where.
  if (system.ok()) {
    EXPECT_FALSE(system->empty());
  } else {
    EXPECT_FALSE(system.error().message.empty());
  }
  EXPECT_FALSE(disks.DiskNumber("\\\\.\\PhysicalDrive97").ok());
}

}  // namespace
}  // namespace mamori
