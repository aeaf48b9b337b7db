#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace mamori {

// What IOCTL_STORAGE_QUERY_PROPERTY (StorageDeviceProperty) says about a
// disk.
struct StorageProperties {
  uint32_t bus_type = 0;  // STORAGE_BUS_TYPE: 7 = BusTypeUsb, 12 = BusTypeSd, ...
  bool removable_media = false;
};

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
  // IOCTL_STORAGE_QUERY_PROPERTY.
  virtual Result<StorageProperties> QueryStorage(std::string_view path) = 0;
};

// The real IOCTLs through CreateFileW + DeviceIoControl.
class Win32DiskControl final : public DiskControl {
 public:
  Status SetReadOnly(std::string_view path) override;
  Result<bool> IsReadOnly(std::string_view path) override;
  Result<StorageProperties> QueryStorage(std::string_view path) override;
};

}  // namespace mamori
