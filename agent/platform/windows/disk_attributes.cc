#include "agent/platform/windows/disk_attributes.h"

// clang-format off
#include <windows.h>
// clang-format on
#include <winioctl.h>

#include <string>

#include "agent/platform/windows/handles.h"
#include "agent/platform/windows/wide_string.h"
#include "agent/platform/windows/win32_registry.h"

namespace mamori {
namespace {

// ntddisk.h's disk-attribute IOCTLs, which MinGW's headers lack. Layouts
// and codes as in the Windows SDK (winioctl.h, Windows 7 and later).
constexpr DWORD kIoctlDiskGetDiskAttributes =
    CTL_CODE(IOCTL_DISK_BASE, 0x003c, METHOD_BUFFERED, FILE_ANY_ACCESS);
constexpr DWORD kIoctlDiskSetDiskAttributes =
    CTL_CODE(IOCTL_DISK_BASE, 0x003d, METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS);
static_assert(kIoctlDiskGetDiskAttributes == 0x000700F0);
static_assert(kIoctlDiskSetDiskAttributes == 0x0007C0F4);
constexpr DWORDLONG kDiskAttributeReadOnly = 0x0000000000000002;

struct GetDiskAttributes {
  DWORD Version;  // sizeof(GetDiskAttributes)
  DWORD Reserved1;
  DWORDLONG Attributes;
};
struct SetDiskAttributes {
  DWORD Version;  // sizeof(SetDiskAttributes)
  BOOLEAN Persist;
  BYTE Reserved1[3];
  DWORDLONG Attributes;
  DWORDLONG AttributesMask;
  DWORD Reserved2[4];
};
static_assert(sizeof(GetDiskAttributes) == 16);
static_assert(sizeof(SetDiskAttributes) == 40);

Result<UniqueHandle> OpenDisk(std::string_view path, DWORD access) {
  // Share everything: the disk is in use by the volume stack, and opening
  // it exclusively would fail or, worse, succeed and disturb it.
  UniqueHandle h(::CreateFileW(Utf8ToUtf16(path).c_str(), access,
                               FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                               OPEN_EXISTING, 0, nullptr));
  if (!h) {
    const DWORD err = ::GetLastError();
    const ErrorCode code = err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND
                               ? ErrorCode::kNotFound
                           : err == ERROR_ACCESS_DENIED ? ErrorCode::kPermissionDenied
                                                        : ErrorCode::kIo;
    return MakeError(code, Win32ErrorText("CreateFileW(" + std::string(path) + ")", err));
  }
  return h;
}

}  // namespace

Status Win32DiskControl::SetReadOnly(std::string_view path) {
  auto disk = OpenDisk(path, GENERIC_READ | GENERIC_WRITE);
  if (!disk.ok()) return disk.error();
  SetDiskAttributes set{};
  set.Version = sizeof(set);
  set.Persist = FALSE;
  set.Attributes = kDiskAttributeReadOnly;
  set.AttributesMask = kDiskAttributeReadOnly;
  DWORD returned = 0;
  if (!::DeviceIoControl(disk->get(), kIoctlDiskSetDiskAttributes, &set, sizeof(set), nullptr, 0,
                         &returned, nullptr)) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("IOCTL_DISK_SET_DISK_ATTRIBUTES(" + std::string(path) + ")",
                                    ::GetLastError()));
  }
  return Status::Ok();
}

Result<bool> Win32DiskControl::IsReadOnly(std::string_view path) {
  auto disk = OpenDisk(path, GENERIC_READ);
  if (!disk.ok()) return disk.error();
  GetDiskAttributes get{};
  get.Version = sizeof(get);
  DWORD returned = 0;
  if (!::DeviceIoControl(disk->get(), kIoctlDiskGetDiskAttributes, nullptr, 0, &get, sizeof(get),
                         &returned, nullptr)) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("IOCTL_DISK_GET_DISK_ATTRIBUTES(" + std::string(path) + ")",
                                    ::GetLastError()));
  }
  if (returned < sizeof(get)) {
    return MakeError(ErrorCode::kIo, "IOCTL_DISK_GET_DISK_ATTRIBUTES(" + std::string(path) +
                                         ") returned " + std::to_string(returned) + " bytes");
  }
  return (get.Attributes & kDiskAttributeReadOnly) != 0;
}

Result<StorageProperties> Win32DiskControl::QueryStorage(std::string_view path) {
  // No access rights needed for this query, so it also works on disks the
  // agent could not open for reading.
  auto disk = OpenDisk(path, 0);
  if (!disk.ok()) return disk.error();
  STORAGE_PROPERTY_QUERY query{};
  query.PropertyId = StorageDeviceProperty;
  query.QueryType = PropertyStandardQuery;
  // The fixed part is enough: the strings after it are not needed.
  STORAGE_DEVICE_DESCRIPTOR descriptor{};
  DWORD returned = 0;
  if (!::DeviceIoControl(disk->get(), IOCTL_STORAGE_QUERY_PROPERTY, &query, sizeof(query),
                         &descriptor, sizeof(descriptor), &returned, nullptr) &&
      ::GetLastError() != ERROR_MORE_DATA) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("IOCTL_STORAGE_QUERY_PROPERTY(" + std::string(path) + ")",
                                    ::GetLastError()));
  }
  if (returned < offsetof(STORAGE_DEVICE_DESCRIPTOR, RawPropertiesLength)) {
    return MakeError(ErrorCode::kIo, "IOCTL_STORAGE_QUERY_PROPERTY(" + std::string(path) +
                                         ") returned " + std::to_string(returned) + " bytes");
  }
  return StorageProperties{static_cast<uint32_t>(descriptor.BusType),
                           descriptor.RemovableMedia != FALSE};
}

}  // namespace mamori
