#include "common/device/usb_class.h"

#include <array>

namespace mamori {
namespace {

constexpr uint8_t kMassStorageSubclassMmc5 = 0x02;

// Most sensitive first.
constexpr std::array<DeviceClass, 9> kSensitivity = {
    DeviceClass::kMassStorage, DeviceClass::kOptical,  DeviceClass::kCardReader,
    DeviceClass::kStillImage,  DeviceClass::kWireless, DeviceClass::kPrinter,
    DeviceClass::kOther,       DeviceClass::kHid,      DeviceClass::kHub,
};

bool EqualsIgnoringCaseAndSpace(std::string_view s, std::string_view word) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  if (s.size() != word.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != word[i]) return false;
  }
  return true;
}

}  // namespace

DeviceClass ClassifyUsbInterface(uint8_t cls, uint8_t subclass, uint8_t /*protocol*/) {
  switch (cls) {
    case kUsbClassMassStorage:
      return subclass == kMassStorageSubclassMmc5 ? DeviceClass::kOptical
                                                  : DeviceClass::kMassStorage;
    case kUsbClassStillImage:
      return DeviceClass::kStillImage;
    case kUsbClassPrinter:
      return DeviceClass::kPrinter;
    case kUsbClassWireless:
      return DeviceClass::kWireless;
    case kUsbClassHid:
      return DeviceClass::kHid;
    case kUsbClassHub:
      return DeviceClass::kHub;
    default:
      return DeviceClass::kOther;
  }
}

DeviceClass ClassifyUsbInterfaceNamed(uint8_t cls, uint8_t subclass, uint8_t protocol,
                                      std::string_view interface_name) {
  const DeviceClass c = ClassifyUsbInterface(cls, subclass, protocol);
  if (c == DeviceClass::kOther && EqualsIgnoringCaseAndSpace(interface_name, "MTP")) {
    return DeviceClass::kStillImage;
  }
  return c;
}

DeviceClass ClassifyUsbDevice(uint8_t device_class, uint8_t device_subclass,
                              uint8_t device_protocol, std::span<const DeviceClass> interfaces) {
  const bool per_interface = device_class == kUsbClassPerInterface ||
                             device_class == kUsbClassMiscellaneous ||
                             device_class == kUsbClassVendorSpecific;
  if (!per_interface) {
    const DeviceClass own = ClassifyUsbInterface(device_class, device_subclass, device_protocol);
    // A device that says "hub" but carries a storage interface is storage.
    for (DeviceClass c : interfaces) {
      if (IsRemovableStorage(c) && !IsRemovableStorage(own)) return c;
    }
    return own;
  }
  for (DeviceClass wanted : kSensitivity) {
    for (DeviceClass c : interfaces) {
      if (c == wanted) return c;
    }
  }
  if (device_class == kUsbClassVendorSpecific) return DeviceClass::kOther;
  return DeviceClass::kUnspecified;
}

}  // namespace mamori
