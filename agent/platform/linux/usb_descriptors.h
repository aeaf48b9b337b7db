#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// One interface descriptor (one alternate setting of one interface).
struct UsbInterfaceDescriptor {
  uint8_t configuration_value = 0;  // bConfigurationValue of its configuration
  uint8_t number = 0;               // bInterfaceNumber
  uint8_t alternate = 0;            // bAlternateSetting
  uint8_t cls = 0;
  uint8_t subclass = 0;
  uint8_t protocol = 0;
  uint8_t string_index = 0;  // iInterface: 0 when the interface has no name

  bool operator==(const UsbInterfaceDescriptor&) const = default;
};

// What the sysfs `descriptors` attribute says about a device: the 18-byte
// device descriptor followed by every configuration the kernel read, each
// wTotalLength bytes long.
struct UsbDescriptors {
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  uint16_t bcd_device = 0;  // release number, part of the kernel's modalias
  uint8_t device_class = 0;
  uint8_t device_subclass = 0;
  uint8_t device_protocol = 0;
  uint8_t num_configurations = 0;
  // Every alternate setting of every interface of every configuration, in
  // descriptor order.
  std::vector<UsbInterfaceDescriptor> interfaces;
  // False when a malformed or truncated descriptor ended the walk early.
  // The kernel's usb_parse_configuration() stops at the same point ("invalid
  // descriptor of length ...; skipping remainder"), so interfaces after it
  // do not exist for it either.
  bool complete = true;
};

// The kernel keeps at most 8 configurations (USB_MAXCONFIG) of 32
// interfaces; more than this many interface entries is refused.
inline constexpr std::size_t kMaxUsbInterfaceEntries = 1024;

// Parses the `descriptors` bytes (pure; no I/O; never throws). Errors: fewer
// than 18 bytes, or a first descriptor that is not a device descriptor.
// Everything after the device descriptor is walked as the kernel does:
// each descriptor's bLength must be at least 2 and fit in what remains, or
// the walk stops with `complete` false. Zero-length descriptors therefore
// end the walk instead of looping.
Result<UsbDescriptors> ParseUsbDescriptors(std::string_view bytes);

// Lower-case hex SHA-256 of the raw descriptor bytes; the rule engine's
// `descriptor_hash`.
std::string DescriptorHash(std::string_view bytes);

}  // namespace mamori
