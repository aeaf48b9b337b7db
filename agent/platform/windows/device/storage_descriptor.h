#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/base/result.h"
#include "common/device/device.h"

namespace mamori {

// STORAGE_BUS_TYPE values (winioctl.h) the backend distinguishes.
inline constexpr uint32_t kStorageBusScsi = 0x01;
inline constexpr uint32_t kStorageBus1394 = 0x04;
inline constexpr uint32_t kStorageBusUsb = 0x07;
inline constexpr uint32_t kStorageBusRaid = 0x08;
inline constexpr uint32_t kStorageBusSata = 0x0B;
inline constexpr uint32_t kStorageBusSd = 0x0C;
inline constexpr uint32_t kStorageBusMmc = 0x0D;
inline constexpr uint32_t kStorageBusNvme = 0x11;

// What IOCTL_STORAGE_QUERY_PROPERTY (StorageDeviceProperty) says about a
// disk. The strings come from the device (SCSI INQUIRY, the SD card's CID,
// the NVMe identify data): raw bytes, attacker-controlled, see sanitize.h
// before showing them.
struct StorageProperties {
  uint32_t bus_type = 0;  // STORAGE_BUS_TYPE
  bool removable_media = false;
  std::string vendor;
  std::string product;
  std::string revision;
  std::string serial;
  bool operator==(const StorageProperties&) const = default;
};

// Longest descriptor string kept; a longer one is dropped, not cut, so a
// rule never matches on part of a serial.
inline constexpr std::size_t kMaxStorageStringBytes = 128;

// Parses the bytes IOCTL_STORAGE_QUERY_PROPERTY returned (`bytes` is what
// DeviceIoControl reported as returned, not the buffer). Pure; every field
// is bounded by the data actually present:
//   - fewer bytes than the fixed part up to BusType, or a Size field below
//     that: an error;
//   - the data is min(bytes, Size) long; a string offset of 0, inside the
//     fixed part, or at or past the end of the data means "absent";
//   - a string must end with a NUL within the data and within
//     kMaxStorageStringBytes, else it is absent; leading and trailing
//     spaces (SCSI pads its fields with them) are removed. Other bytes,
//     non-ASCII included, are kept as they are.
Result<StorageProperties> ParseStorageDeviceDescriptor(std::span<const uint8_t> bytes);

// "usb", "sd", "mmc", "1394", "sata", "nvme", ... or "bus 0xNN" (hex).
std::string StorageBusName(uint32_t bus_type);

// The class of a disk that has no USB device above it in the PnP tree, or
// nullopt for a fixed disk the agent never controls. SD and MMC are card
// readers; IEEE 1394, USB (a USB disk whose USB device is not in the tree)
// and any disk reporting RemovableMedia are mass storage. Everything else
// (SATA, NVMe, SCSI, RAID, SAS, ATA, virtual, Storage Spaces, ...) without
// RemovableMedia is fixed. The system disk is excluded by the caller,
// whatever this says. Pure.
std::optional<DeviceClass> ClassOfNonUsbDisk(const StorageProperties& props);

}  // namespace mamori
