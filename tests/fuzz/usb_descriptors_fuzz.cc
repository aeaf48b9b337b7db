// libFuzzer target: whatever a device puts in its descriptors, the parser
// terminates, stays within its entry cap, and agrees with itself on the
// bytes it was given.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/platform/linux/usb_descriptors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  mamori::Result<mamori::UsbDescriptors> d = mamori::ParseUsbDescriptors(bytes);
  if (!d.ok()) {
    if (size >= 18 && data[1] == 0x01 && data[0] == 18) __builtin_trap();  // a device descriptor
    return 0;
  }
  if (size < 18) __builtin_trap();
  if (d->interfaces.size() > mamori::kMaxUsbInterfaceEntries) __builtin_trap();
  if (d->vendor_id != static_cast<uint16_t>(data[8] | (data[9] << 8))) __builtin_trap();
  if (mamori::DescriptorHash(bytes).size() != 64) __builtin_trap();
  return 0;
}
