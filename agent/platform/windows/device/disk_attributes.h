#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/platform/windows/device/storage_descriptor.h"
#include "common/base/result.h"

namespace mamori {

// Disk access behind an interface (house style rule 2): the read-only
// enforcement logic is tested with a fake, the IOCTLs under Wine. `path` is
// a disk interface path ("\\?\usbstor#disk&ven_...#{53f56307-...}") or
// "\\.\PhysicalDriveN", UTF-8.
class DiskControl {
 public:
  virtual ~DiskControl() = default;

  // IOCTL_DISK_SET_DISK_ATTRIBUTES with DISK_ATTRIBUTE_READ_ONLY, not
  // persisted: the disk is writable again on the next plug-in or boot, where
  // the agent decides afresh.
  virtual Status SetReadOnly(std::string_view path) = 0;
  // IOCTL_DISK_GET_DISK_ATTRIBUTES: whether DISK_ATTRIBUTE_READ_ONLY is set.
  virtual Result<bool> IsReadOnly(std::string_view path) = 0;
  // IOCTL_STORAGE_QUERY_PROPERTY (StorageDeviceProperty), parsed by
  // ParseStorageDeviceDescriptor.
  virtual Result<StorageProperties> QueryStorage(std::string_view path) = 0;
  // IOCTL_STORAGE_GET_DEVICE_NUMBER: N of "\\.\PhysicalDriveN".
  virtual Result<uint32_t> DiskNumber(std::string_view path) = 0;
  // The disks holding the volume Windows runs from (the Windows
  // directory's volume; IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS, so a volume
  // spanning disks names them all). Never empty on success.
  virtual Result<std::vector<uint32_t>> SystemDiskNumbers() = 0;
};

// The real IOCTLs through CreateFileW + DeviceIoControl.
class Win32DiskControl final : public DiskControl {
 public:
  Status SetReadOnly(std::string_view path) override;
  Result<bool> IsReadOnly(std::string_view path) override;
  Result<StorageProperties> QueryStorage(std::string_view path) override;
  Result<uint32_t> DiskNumber(std::string_view path) override;
  Result<std::vector<uint32_t>> SystemDiskNumbers() override;
};

}  // namespace mamori
