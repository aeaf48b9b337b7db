// Device control calls against Wine: notification registration and
// delivery through a real window, the WTS user lookup, and the disk IOCTLs.
// Wine has no removable disks, so the IOCTL tests check what can be checked:
// errors are reported, never a false success.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "agent/platform/windows/cm_notification.h"
#include "agent/platform/windows/disk_attributes.h"
#include "agent/platform/windows/session_user.h"
#include "agent/platform/windows/windows_device_backend.h"

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

}  // namespace
}  // namespace mamori
