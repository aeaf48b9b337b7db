// libFuzzer target: the STORAGE_DEVICE_DESCRIPTOR a disk's driver returns
// on Windows (its strings come from the device: SCSI INQUIRY, an SD card's
// CID, NVMe identify data). Whatever the bytes, parsing either refuses them
// with a reason or yields strings that lie inside the data, are bounded,
// hold no NUL and carry no padding at either end.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "agent/platform/windows/device/storage_descriptor.h"

namespace {

void CheckString(const std::string& s, std::string_view data) {
  if (s.size() > mamori::kMaxStorageStringBytes) __builtin_trap();
  if (s.find('\0') != std::string::npos) __builtin_trap();
  if (!s.empty() && (s.front() == ' ' || s.back() == ' ')) __builtin_trap();
  // Every byte came from the descriptor, in order.
  if (!s.empty() && data.find(s) == std::string_view::npos) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto props = mamori::ParseStorageDeviceDescriptor(std::span<const uint8_t>(data, size));
  if (!props.ok()) {
    if (props.error().message.empty()) __builtin_trap();
    return 0;
  }
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckString(props->vendor, bytes);
  CheckString(props->product, bytes);
  CheckString(props->revision, bytes);
  CheckString(props->serial, bytes);
  (void)mamori::StorageBusName(props->bus_type);
  (void)mamori::ClassOfNonUsbDisk(*props);
  return 0;
}
