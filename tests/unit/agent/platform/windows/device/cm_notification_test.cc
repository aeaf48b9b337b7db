// Parsing of the notification structures the OS hands to callbacks, built
// here byte for byte as Windows lays them out.
#include "agent/platform/windows/device/cm_notification.h"

#include <gtest/gtest.h>
#include <winioctl.h>
// After winioctl.h (the GUID macros); uuid supplies the definitions.
#include <bthdef.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace mamori {
namespace {

const wchar_t kDiskPath[] =
    L"\\\\?\\USBSTOR#Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00#4C530001231120115142&0#"
    L"{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";
const char kDiskPathUtf8[] =
    "\\\\?\\USBSTOR#Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00#4C530001231120115142&0#"
    "{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";

// A DEV_BROADCAST_DEVICEINTERFACE_W with `name` (not necessarily
// terminated) and the dbcc_size Windows would report.
std::vector<unsigned char> Broadcast(const GUID& cls, std::wstring_view name,
                                     bool terminate = true) {
  const std::size_t offset = offsetof(DEV_BROADCAST_DEVICEINTERFACE_W, dbcc_name);
  const std::size_t chars = name.size() + (terminate ? 1 : 0);
  std::vector<unsigned char> buf(
      std::max(sizeof(DEV_BROADCAST_DEVICEINTERFACE_W), offset + chars * sizeof(wchar_t)) + 64);
  std::memset(buf.data(), 'X', buf.size());  // garbage after the name
  DEV_BROADCAST_DEVICEINTERFACE_W head{};
  head.dbcc_size = static_cast<DWORD>(offset + chars * sizeof(wchar_t));
  head.dbcc_devicetype = DBT_DEVTYP_DEVICEINTERFACE;
  head.dbcc_classguid = cls;
  std::memcpy(buf.data(), &head, offset);
  std::memcpy(buf.data() + offset, name.data(), name.size() * sizeof(wchar_t));
  if (terminate)
    std::memset(buf.data() + offset + name.size() * sizeof(wchar_t), 0, sizeof(wchar_t));
  return buf;
}

std::vector<unsigned char> CmEvent(const GUID& cls, std::wstring_view name, DWORD* size) {
  const std::size_t offset = offsetof(CM_NOTIFY_EVENT_DATA, u.DeviceInterface.SymbolicLink);
  std::vector<unsigned char> buf(offset + (name.size() + 1) * sizeof(WCHAR) + 16, 0);
  CM_NOTIFY_EVENT_DATA head{};
  head.FilterType = CM_NOTIFY_FILTER_TYPE_DEVICEINTERFACE;
  head.u.DeviceInterface.ClassGuid = cls;
  std::memcpy(buf.data(), &head, offset);
  std::memcpy(buf.data() + offset, name.data(), name.size() * sizeof(WCHAR));
  *size = static_cast<DWORD>(offset + (name.size() + 1) * sizeof(WCHAR));
  return buf;
}

TEST(InterfaceClassTest, GuidsRoundTripAndMatchTheSdk) {
  for (InterfaceClass c : kWatchedInterfaceClasses) {
    EXPECT_EQ(InterfaceClassFromGuid(InterfaceClassGuid(c)), c) << InterfaceClassName(c);
  }
  // GUID_DEVINTERFACE_DISK as the SDK (winioctl.h) defines it.
  EXPECT_TRUE(::IsEqualGUID(InterfaceClassGuid(InterfaceClass::kDisk), GUID_DEVINTERFACE_DISK));
  EXPECT_TRUE(::IsEqualGUID(InterfaceClassGuid(InterfaceClass::kVolume), GUID_DEVINTERFACE_VOLUME));
  EXPECT_TRUE(::IsEqualGUID(InterfaceClassGuid(InterfaceClass::kCdRom), GUID_DEVINTERFACE_CDROM));
  // The rest as the SDK headers define them (winioctl.h, bthdef.h;
  // GUID_DEVINTERFACE_MODEM from ntddmodm.h and GUID_DEVINTERFACE_NET from
  // ndisguid.h spelled out: MinGW's uuid library does not define them).
  EXPECT_TRUE(
      ::IsEqualGUID(InterfaceClassGuid(InterfaceClass::kComPort), GUID_DEVINTERFACE_COMPORT));
  const GUID modem{0x2c7089aa, 0x2e0e, 0x11d1, {0xb1, 0x14, 0x00, 0xc0, 0x4f, 0xc2, 0xaa, 0xe4}};
  EXPECT_TRUE(::IsEqualGUID(InterfaceClassGuid(InterfaceClass::kModem), modem));
  EXPECT_TRUE(
      ::IsEqualGUID(InterfaceClassGuid(InterfaceClass::kBluetooth), GUID_BTHPORT_DEVICE_INTERFACE));
  const GUID net{0xcac88484, 0x7515, 0x4c03, {0x82, 0xe6, 0x71, 0xa8, 0x7a, 0xba, 0xc3, 0x61}};
  EXPECT_TRUE(::IsEqualGUID(InterfaceClassGuid(InterfaceClass::kNet), net));
  const GUID hid{0x4D1E55B2, 0xF16F, 0x11CF, {0x88, 0xCB, 0x00, 0x11, 0x11, 0x00, 0x00, 0x30}};
  EXPECT_FALSE(InterfaceClassFromGuid(hid));
}

TEST(ParseDeviceBroadcastTest, DiskArrivalAndRemoval) {
  auto buf = Broadcast(InterfaceClassGuid(InterfaceClass::kDisk), kDiskPath);
  const auto arrival = ParseDeviceBroadcast(DBT_DEVICEARRIVAL, buf.data());
  ASSERT_TRUE(arrival);
  EXPECT_EQ(arrival->kind, DeviceNotification::Kind::kArrival);
  EXPECT_EQ(arrival->cls, InterfaceClass::kDisk);
  EXPECT_EQ(arrival->path, kDiskPathUtf8);
  const auto removal = ParseDeviceBroadcast(DBT_DEVICEREMOVECOMPLETE, buf.data());
  ASSERT_TRUE(removal);
  EXPECT_EQ(removal->kind, DeviceNotification::Kind::kRemoval);
}

TEST(ParseDeviceBroadcastTest, UnterminatedNameStopsAtTheReportedSize) {
  auto buf = Broadcast(InterfaceClassGuid(InterfaceClass::kWpd), L"\\\\?\\USB#VID_04E8", false);
  const auto n = ParseDeviceBroadcast(DBT_DEVICEARRIVAL, buf.data());
  ASSERT_TRUE(n);
  EXPECT_EQ(n->path, "\\\\?\\USB#VID_04E8");  // not the 'X' garbage after it
}

TEST(ParseDeviceBroadcastTest, IgnoresWhatIsNotAWatchedInterface) {
  auto buf = Broadcast(InterfaceClassGuid(InterfaceClass::kDisk), kDiskPath);
  EXPECT_FALSE(ParseDeviceBroadcast(DBT_DEVNODES_CHANGED, buf.data()));
  EXPECT_FALSE(ParseDeviceBroadcast(DBT_DEVICEQUERYREMOVE, buf.data()));
  EXPECT_FALSE(ParseDeviceBroadcast(DBT_DEVICEARRIVAL, nullptr));
  const GUID other{0x12345678, 0x1, 0x2, {3, 4, 5, 6, 7, 8, 9, 10}};
  auto foreign = Broadcast(other, kDiskPath);
  EXPECT_FALSE(ParseDeviceBroadcast(DBT_DEVICEARRIVAL, foreign.data()));
  // A volume broadcast (DBT_DEVTYP_VOLUME), as drive-letter events are.
  DEV_BROADCAST_VOLUME volume{};
  volume.dbcv_size = sizeof(volume);
  volume.dbcv_devicetype = DBT_DEVTYP_VOLUME;
  volume.dbcv_unitmask = 1u << 4;
  EXPECT_FALSE(ParseDeviceBroadcast(DBT_DEVICEARRIVAL, &volume));
  // A header claiming less than the fixed part.
  buf[0] = 4;
  buf[1] = buf[2] = buf[3] = 0;
  EXPECT_FALSE(ParseDeviceBroadcast(DBT_DEVICEARRIVAL, buf.data()));
}

TEST(ParseDeviceBroadcastTest, OversizedPathIsBounded) {
  const std::wstring huge(100000, L'A');
  auto buf = Broadcast(InterfaceClassGuid(InterfaceClass::kVolume), huge);
  const auto n = ParseDeviceBroadcast(DBT_DEVICEARRIVAL, buf.data());
  ASSERT_TRUE(n);
  EXPECT_EQ(n->path.size(), kMaxInterfacePathChars);
}

TEST(ParseCmNotifyEventTest, ArrivalRemovalAndOthers) {
  DWORD size = 0;
  auto buf = CmEvent(InterfaceClassGuid(InterfaceClass::kCdRom), L"\\\\?\\SCSI#CdRom", &size);
  const auto* data = reinterpret_cast<const CM_NOTIFY_EVENT_DATA*>(buf.data());
  const auto arrival = ParseCmNotifyEvent(CM_NOTIFY_ACTION_DEVICEINTERFACEARRIVAL, data, size);
  ASSERT_TRUE(arrival);
  EXPECT_EQ(*arrival, (DeviceNotification{DeviceNotification::Kind::kArrival,
                                          InterfaceClass::kCdRom, "\\\\?\\SCSI#CdRom"}));
  const auto removal = ParseCmNotifyEvent(CM_NOTIFY_ACTION_DEVICEINTERFACEREMOVAL, data, size);
  ASSERT_TRUE(removal);
  EXPECT_EQ(removal->kind, DeviceNotification::Kind::kRemoval);
  EXPECT_FALSE(ParseCmNotifyEvent(CM_NOTIFY_ACTION_DEVICEQUERYREMOVE, data, size));
  EXPECT_FALSE(ParseCmNotifyEvent(CM_NOTIFY_ACTION_DEVICEINTERFACEARRIVAL, nullptr, 0));
  EXPECT_FALSE(ParseCmNotifyEvent(CM_NOTIFY_ACTION_DEVICEINTERFACEARRIVAL, data, 4));
}

TEST(ParseCmNotifyEventTest, LinkIsBoundedByEventDataSize) {
  DWORD size = 0;
  auto buf = CmEvent(InterfaceClassGuid(InterfaceClass::kUsbDevice), L"\\\\?\\USB#VID_0781", &size);
  const auto* data = reinterpret_cast<const CM_NOTIFY_EVENT_DATA*>(buf.data());
  // A size that cuts the link short: only that much is read.
  const DWORD cut = static_cast<DWORD>(
      offsetof(CM_NOTIFY_EVENT_DATA, u.DeviceInterface.SymbolicLink) + 4 * sizeof(WCHAR));
  const auto n = ParseCmNotifyEvent(CM_NOTIFY_ACTION_DEVICEINTERFACEARRIVAL, data, cut);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->path, "\\\\?\\");
}

}  // namespace
}  // namespace mamori
