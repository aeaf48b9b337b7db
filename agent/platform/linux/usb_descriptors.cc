#include "agent/platform/linux/usb_descriptors.h"

#include <openssl/evp.h>

namespace mamori {
namespace {

constexpr uint8_t kTypeDevice = 0x01;
constexpr uint8_t kTypeConfiguration = 0x02;
constexpr uint8_t kTypeInterface = 0x04;
constexpr std::size_t kDeviceDescriptorBytes = 18;
constexpr std::size_t kConfigDescriptorBytes = 9;
constexpr std::size_t kInterfaceDescriptorBytes = 9;

uint8_t U8(std::string_view b, std::size_t i) { return static_cast<uint8_t>(b[i]); }
uint16_t U16(std::string_view b, std::size_t i) {
  return static_cast<uint16_t>(U8(b, i) | (U8(b, i + 1) << 8));
}

// Walks the descriptors of one configuration. Returns false when the walk
// had to stop early.
bool ParseConfiguration(std::string_view config, UsbDescriptors& out) {
  const uint8_t value = U8(config, 5);
  std::size_t pos = U8(config, 0);  // bLength of the configuration descriptor
  while (pos < config.size()) {
    if (config.size() - pos < 2) return false;  // stray bytes at the end
    const std::size_t len = U8(config, pos);
    if (len < 2 || len > config.size() - pos) return false;
    const std::string_view d = config.substr(pos, len);
    pos += len;
    if (U8(d, 1) != kTypeInterface) continue;
    // The kernel skips short interface descriptors; so does this.
    if (len < kInterfaceDescriptorBytes) continue;
    if (out.interfaces.size() >= kMaxUsbInterfaceEntries) return false;
    out.interfaces.push_back(UsbInterfaceDescriptor{
        .configuration_value = value,
        .number = U8(d, 2),
        .alternate = U8(d, 3),
        .cls = U8(d, 5),
        .subclass = U8(d, 6),
        .protocol = U8(d, 7),
        .string_index = U8(d, 8),
    });
  }
  return true;
}

}  // namespace

Result<UsbDescriptors> ParseUsbDescriptors(std::string_view bytes) {
  if (bytes.size() < kDeviceDescriptorBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "USB descriptors: " + std::to_string(bytes.size()) +
                         " bytes, shorter than a device descriptor (18)");
  }
  if (U8(bytes, 0) != kDeviceDescriptorBytes || U8(bytes, 1) != kTypeDevice) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "USB descriptors: the first descriptor is not a device descriptor");
  }
  UsbDescriptors out;
  out.device_class = U8(bytes, 4);
  out.device_subclass = U8(bytes, 5);
  out.device_protocol = U8(bytes, 6);
  out.vendor_id = U16(bytes, 8);
  out.product_id = U16(bytes, 10);
  out.bcd_device = U16(bytes, 12);
  out.num_configurations = U8(bytes, 17);

  std::size_t pos = kDeviceDescriptorBytes;
  while (pos < bytes.size()) {
    const std::string_view rest = bytes.substr(pos);
    if (rest.size() < kConfigDescriptorBytes || U8(rest, 0) < kConfigDescriptorBytes ||
        U8(rest, 1) != kTypeConfiguration) {
      out.complete = false;
      break;
    }
    std::size_t total = U16(rest, 2);
    if (total < U8(rest, 0)) {
      out.complete = false;
      break;
    }
    if (total > rest.size()) {
      // The kernel trims a configuration to what the device delivered.
      out.complete = false;
      total = rest.size();
    }
    if (!ParseConfiguration(rest.substr(0, total), out)) out.complete = false;
    pos += total;
  }
  return out;
}

std::string DescriptorHash(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

}  // namespace mamori
