#include "common/device/usb_class.h"

#include <array>

namespace mamori {
namespace {

constexpr uint8_t kMassStorageSubclassMmc5 = 0x02;
constexpr uint8_t kCdcSubclassAcm = 0x02;
constexpr uint8_t kProtocolVendor = 0xFF;
constexpr uint8_t kWirelessSubclassRadioFrequency = 0x01;
constexpr uint8_t kWirelessProtocolBluetooth = 0x01;
constexpr uint8_t kWirelessProtocolRndis = 0x03;
constexpr uint8_t kWirelessProtocolBluetoothAmp = 0x04;
constexpr uint8_t kMiscSubclassSync = 0x01;
constexpr uint8_t kMiscSubclassRndis = 0x04;
constexpr uint8_t kVendorSubclassAdb = 0x42;
constexpr uint8_t kAdbProtocol = 0x01;

// Most sensitive first.
constexpr std::array<DeviceClass, 15> kSensitivity = {
    DeviceClass::kMassStorage, DeviceClass::kOptical, DeviceClass::kCardReader,
    DeviceClass::kStillImage,  DeviceClass::kNetwork, DeviceClass::kWifi,
    DeviceClass::kBluetooth,   DeviceClass::kSerial,  DeviceClass::kWireless,
    DeviceClass::kPrinter,     DeviceClass::kOther,   DeviceClass::kSmartCard,
    DeviceClass::kBiometric,   DeviceClass::kHid,     DeviceClass::kHub,
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

DeviceClass ClassifyCdcControl(uint8_t subclass, uint8_t protocol) {
  switch (subclass) {
    case 0x06:  // ECM
    case 0x07:  // ATM networking
    case 0x0A:  // MDLM (Zaurus and other "mobile direct line" networking)
    case 0x0C:  // EEM
    case 0x0D:  // NCM
    case 0x0E:  // MBIM (mobile broadband)
      return DeviceClass::kNetwork;
    case kCdcSubclassAcm:
      // Microsoft's RNDIS presents itself as ACM with a vendor protocol.
      return protocol == kProtocolVendor ? DeviceClass::kNetwork : DeviceClass::kSerial;
    default:
      return DeviceClass::kSerial;
  }
}

}  // namespace

DeviceClass ClassifyUsbInterface(uint8_t cls, uint8_t subclass, uint8_t protocol) {
  switch (cls) {
    case kUsbClassMassStorage:
      return subclass == kMassStorageSubclassMmc5 ? DeviceClass::kOptical
                                                  : DeviceClass::kMassStorage;
    case kUsbClassStillImage:
      return DeviceClass::kStillImage;
    case kUsbClassPrinter:
      return DeviceClass::kPrinter;
    case kUsbClassCommunications:
      return ClassifyCdcControl(subclass, protocol);
    case kUsbClassCdcData:
      return DeviceClass::kNetwork;
    case kUsbClassSmartCard:
      return DeviceClass::kSmartCard;
    case kUsbClassWireless:
      if (subclass == kWirelessSubclassRadioFrequency) {
        if (protocol == kWirelessProtocolBluetooth || protocol == kWirelessProtocolBluetoothAmp) {
          return DeviceClass::kBluetooth;
        }
        if (protocol == kWirelessProtocolRndis) return DeviceClass::kNetwork;
      }
      return DeviceClass::kWireless;
    case kUsbClassMiscellaneous:
      if (subclass == kMiscSubclassRndis) return DeviceClass::kNetwork;
      if (subclass == kMiscSubclassSync && (protocol == 0x01 || protocol == 0x02)) {
        return DeviceClass::kStillImage;
      }
      return DeviceClass::kOther;
    case kUsbClassVendorSpecific:
      if (subclass == kVendorSubclassAdb && protocol == kAdbProtocol) {
        return DeviceClass::kStillImage;
      }
      return DeviceClass::kOther;
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

bool UsbInterfaceNeedsMoreThanItsClass(uint8_t cls) { return cls == kUsbClassVendorSpecific; }

int UsbClassSensitivity(DeviceClass c) {
  for (std::size_t i = 0; i < kSensitivity.size(); ++i) {
    if (kSensitivity[i] == c) return static_cast<int>(i);
  }
  return static_cast<int>(kSensitivity.size());
}

DeviceClass ClassifyUsbDevice(uint8_t device_class, uint8_t device_subclass,
                              uint8_t device_protocol, std::span<const DeviceClass> interfaces) {
  const bool per_interface =
      device_class == kUsbClassPerInterface || device_class == kUsbClassCommunications ||
      device_class == kUsbClassMiscellaneous || device_class == kUsbClassVendorSpecific;
  DeviceClass best = DeviceClass::kUnspecified;
  const auto consider = [&best](DeviceClass c) {
    if (UsbClassSensitivity(c) < UsbClassSensitivity(best)) best = c;
  };
  if (!per_interface)
    consider(ClassifyUsbInterface(device_class, device_subclass, device_protocol));
  for (DeviceClass c : interfaces) consider(c);
  if (best == DeviceClass::kUnspecified && device_class == kUsbClassVendorSpecific) {
    return DeviceClass::kOther;
  }
  return best;
}

}  // namespace mamori
