#include "agent/platform/windows/device/disk_attributes.h"

// clang-format off
#include <windows.h>
// clang-format on
#include <winioctl.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"

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
  // Room for the fixed part and its strings; a driver that wants more
  // gets its strings past this point dropped by the parser, not trusted.
  constexpr DWORD kDescriptorBytes = 4096;
  std::vector<DWORD> storage(kDescriptorBytes / sizeof(DWORD));
  DWORD returned = 0;
  if (!::DeviceIoControl(disk->get(), IOCTL_STORAGE_QUERY_PROPERTY, &query, sizeof(query),
                         storage.data(), kDescriptorBytes, &returned, nullptr) &&
      ::GetLastError() != ERROR_MORE_DATA) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("IOCTL_STORAGE_QUERY_PROPERTY(" + std::string(path) + ")",
                                    ::GetLastError()));
  }
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(storage.data()),
                                       std::min(returned, kDescriptorBytes));
  auto props = ParseStorageDeviceDescriptor(bytes);
  if (!props.ok()) {
    return MakeError(ErrorCode::kIo, "IOCTL_STORAGE_QUERY_PROPERTY(" + std::string(path) +
                                         "): " + props.error().message);
  }
  return props;
}

Result<uint32_t> Win32DiskControl::DiskNumber(std::string_view path) {
  auto disk = OpenDisk(path, 0);
  if (!disk.ok()) return disk.error();
  STORAGE_DEVICE_NUMBER number{};
  DWORD returned = 0;
  if (!::DeviceIoControl(disk->get(), IOCTL_STORAGE_GET_DEVICE_NUMBER, nullptr, 0, &number,
                         sizeof(number), &returned, nullptr)) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("IOCTL_STORAGE_GET_DEVICE_NUMBER(" + std::string(path) + ")",
                                    ::GetLastError()));
  }
  if (returned < sizeof(number)) {
    return MakeError(ErrorCode::kIo, "IOCTL_STORAGE_GET_DEVICE_NUMBER(" + std::string(path) +
                                         ") returned " + std::to_string(returned) + " bytes");
  }
  return static_cast<uint32_t>(number.DeviceNumber);
}

Result<std::vector<uint32_t>> Win32DiskControl::SystemDiskNumbers() {
  wchar_t windows[MAX_PATH + 1] = {};
  const UINT chars = ::GetWindowsDirectoryW(windows, MAX_PATH + 1);
  if (chars == 0 || chars > MAX_PATH) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("GetWindowsDirectoryW", ::GetLastError()));
  }
  wchar_t mount[MAX_PATH + 1] = {};
  if (!::GetVolumePathNameW(windows, mount, MAX_PATH + 1)) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("GetVolumePathNameW", ::GetLastError()));
  }
  // "\\?\Volume{...}\" names the volume wherever it is mounted; opening
  // it needs the name without the trailing backslash.
  wchar_t volume[MAX_PATH + 1] = {};
  if (!::GetVolumeNameForVolumeMountPointW(mount, volume, MAX_PATH + 1)) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("GetVolumeNameForVolumeMountPointW(" + Utf16ToUtf8(mount) + ")",
                                    ::GetLastError()));
  }
  std::wstring name = volume;
  if (!name.empty() && name.back() == L'\\') name.pop_back();
  const std::string where = Utf16ToUtf8(name);
  auto handle = OpenDisk(where, 0);
  if (!handle.ok()) return handle.error();

  constexpr std::size_t kMaxExtents = 64;
  std::vector<DISK_EXTENT> storage(kMaxExtents + 1);
  auto* extents = reinterpret_cast<VOLUME_DISK_EXTENTS*>(storage.data());
  const DWORD bytes = static_cast<DWORD>(storage.size() * sizeof(DISK_EXTENT));
  DWORD returned = 0;
  std::vector<uint32_t> out;
  if (::DeviceIoControl(handle->get(), IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS, nullptr, 0, extents,
                        bytes, &returned, nullptr) &&
      returned >= offsetof(VOLUME_DISK_EXTENTS, Extents)) {
    const std::size_t present =
        (returned - offsetof(VOLUME_DISK_EXTENTS, Extents)) / sizeof(DISK_EXTENT);
    const std::size_t n = std::min<std::size_t>(extents->NumberOfDiskExtents, present);
    const auto* first = reinterpret_cast<const unsigned char*>(storage.data()) +
                        offsetof(VOLUME_DISK_EXTENTS, Extents);
    for (std::size_t i = 0; i < n; ++i) {
      DISK_EXTENT extent;
      std::memcpy(&extent, first + i * sizeof(DISK_EXTENT), sizeof(extent));
      out.push_back(extent.DiskNumber);
    }
  }
  if (out.empty()) {
    // A volume that is not a set of disk extents (or a stack that does
    // not answer the volume IOCTL) still names its disk this way.
    auto number = DiskNumber(where);
    if (!number.ok()) {
      return MakeError(number.error().code,
                       "the system volume's disk: IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS failed, " +
                           number.error().message);
    }
    out.push_back(*number);
  }
  return out;
}

}  // namespace mamori
