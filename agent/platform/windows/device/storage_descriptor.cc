#include "agent/platform/windows/device/storage_descriptor.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace mamori {
namespace {

// STORAGE_DEVICE_DESCRIPTOR (winioctl.h), little-endian:
//   0 Version, 4 Size, 8 DeviceType, 9 DeviceTypeModifier,
//   10 RemovableMedia, 11 CommandQueueing, 12 VendorIdOffset,
//   16 ProductIdOffset, 20 ProductRevisionOffset, 24 SerialNumberOffset,
//   28 BusType, 32 RawPropertiesLength, 36 RawDeviceProperties[].
constexpr std::size_t kSizeAt = 4;
constexpr std::size_t kRemovableMediaAt = 10;
constexpr std::size_t kVendorOffsetAt = 12;
constexpr std::size_t kProductOffsetAt = 16;
constexpr std::size_t kRevisionOffsetAt = 20;
constexpr std::size_t kSerialOffsetAt = 24;
constexpr std::size_t kBusTypeAt = 28;
// Enough to know the bus; older drivers stop here.
constexpr std::size_t kMinimumBytes = kBusTypeAt + 4;
// Strings start after RawDeviceProperties at the earliest; an offset into
// the fixed part would read the header as text.
constexpr std::size_t kFixedPartBytes = 36;

uint32_t ReadU32(std::span<const uint8_t> bytes, std::size_t at) {
  return static_cast<uint32_t>(bytes[at]) | static_cast<uint32_t>(bytes[at + 1]) << 8 |
         static_cast<uint32_t>(bytes[at + 2]) << 16 | static_cast<uint32_t>(bytes[at + 3]) << 24;
}

std::string StringAt(std::span<const uint8_t> data, uint32_t offset) {
  if (offset < kFixedPartBytes || offset >= data.size()) return {};
  const auto rest = data.subspan(offset);
  const auto limit = rest.first(std::min(rest.size(), kMaxStorageStringBytes + 1));
  const auto nul = std::find(limit.begin(), limit.end(), uint8_t{0});
  if (nul == limit.end()) return {};  // unterminated or too long
  std::string_view s(reinterpret_cast<const char*>(limit.data()),
                     static_cast<std::size_t>(nul - limit.begin()));
  const auto first = s.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  s = s.substr(first, s.find_last_not_of(' ') - first + 1);
  return std::string(s);
}

}  // namespace

Result<StorageProperties> ParseStorageDeviceDescriptor(std::span<const uint8_t> bytes) {
  if (bytes.size() < kMinimumBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "storage device descriptor of " +
                                                      std::to_string(bytes.size()) +
                                                      " bytes is shorter than its fixed part (" +
                                                      std::to_string(kMinimumBytes) + ")");
  }
  const uint32_t size = ReadU32(bytes, kSizeAt);
  if (size < kMinimumBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "storage device descriptor says its size is " +
                                                      std::to_string(size) + " bytes");
  }
  const auto data = bytes.first(std::min<std::size_t>(bytes.size(), size));
  StorageProperties p;
  p.bus_type = ReadU32(data, kBusTypeAt);
  p.removable_media = data[kRemovableMediaAt] != 0;
  p.vendor = StringAt(data, ReadU32(data, kVendorOffsetAt));
  p.product = StringAt(data, ReadU32(data, kProductOffsetAt));
  p.revision = StringAt(data, ReadU32(data, kRevisionOffsetAt));
  p.serial = StringAt(data, ReadU32(data, kSerialOffsetAt));
  return p;
}

std::string StorageBusName(uint32_t bus_type) {
  switch (bus_type) {
    case kStorageBusScsi:
      return "scsi";
    case 0x02:
      return "atapi";
    case 0x03:
      return "ata";
    case kStorageBus1394:
      return "1394";
    case kStorageBusUsb:
      return "usb";
    case kStorageBusRaid:
      return "raid";
    case 0x0A:
      return "sas";
    case kStorageBusSata:
      return "sata";
    case kStorageBusSd:
      return "sd";
    case kStorageBusMmc:
      return "mmc";
    case kStorageBusNvme:
      return "nvme";
    default: {
      char buf[16];
      std::snprintf(buf, sizeof buf, "bus 0x%02x", static_cast<unsigned>(bus_type));
      return buf;
    }
  }
}

std::optional<DeviceClass> ClassOfNonUsbDisk(const StorageProperties& props) {
  switch (props.bus_type) {
    case kStorageBusSd:
    case kStorageBusMmc:
      return DeviceClass::kCardReader;
    case kStorageBus1394:
    case kStorageBusUsb:
      return DeviceClass::kMassStorage;
    default:
      break;
  }
  if (props.removable_media) return DeviceClass::kMassStorage;
  return std::nullopt;
}

}  // namespace mamori
