#include "agent/platform/windows/device/function_class.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "agent/platform/windows/device/device_id.h"
#include "common/device/usb_class.h"

namespace mamori {
namespace {

// USB class codes (usb.org "Defined Class Codes") beyond usb_class.h's.
constexpr uint8_t kClassVideo = 0x0E;

// Higher is more restrictive. Kept apart from usb_class.cc's sensitivity
// order on purpose: that order picks a device's headline class among its
// interfaces; this one settles disagreeing evidence about one function,
// where `other` means "nothing specific known yet" and yields to any class
// some evidence names.
int Restrictiveness(DeviceClass c) {
  switch (c) {
    case DeviceClass::kMassStorage:
      return 100;
    case DeviceClass::kOptical:
      return 99;
    case DeviceClass::kCardReader:
      return 98;
    case DeviceClass::kStillImage:
      return 97;
    case DeviceClass::kNetwork:
      return 90;
    case DeviceClass::kWifi:
      return 89;
    case DeviceClass::kBluetooth:
      return 88;
    case DeviceClass::kSerial:
      return 87;
    case DeviceClass::kWireless:
      return 86;
    case DeviceClass::kPrinter:
      return 80;
    case DeviceClass::kBiometric:
      return 40;
    case DeviceClass::kSmartCard:
      return 39;
    case DeviceClass::kOther:
      return 35;
    case DeviceClass::kHid:
      return 30;
    case DeviceClass::kHub:
      return 20;
    case DeviceClass::kUnspecified:
      return 0;
  }
  return 0;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void Tighten(std::optional<DeviceClass>& current, std::optional<DeviceClass> evidence) {
  if (!evidence) return;
  current = current ? MoreRestrictive(*current, *evidence) : *evidence;
}

struct VidPid {
  uint16_t vendor_id;
  uint16_t product_id;
};

// Sources: the id tables of the Linux drivers named (drivers/net/wireless/).
constexpr std::array<VidPid, 15> kWifiUsbIds = {{
    {0x0bda, 0x8176},  // Realtek RTL8188CUS (rtl8192cu)
    {0x0bda, 0x8179},  // Realtek RTL8188EUS (rtl8xxxu)
    {0x0bda, 0x818b},  // Realtek RTL8192EU (rtl8xxxu)
    {0x0bda, 0xf179},  // Realtek RTL8188FU (rtl8xxxu)
    {0x0bda, 0x8812},  // Realtek RTL8812AU (rtw88)
    {0x0bda, 0xb812},  // Realtek RTL8822BU (rtw88)
    {0x0bda, 0xc811},  // Realtek RTL8811CU/8821CU (rtw88)
    {0x2357, 0x010c},  // TP-Link TL-WN722N v2/v3, RTL8188EUS (rtl8xxxu)
    {0x0e8d, 0x7610},  // MediaTek MT7610U (mt76x0u)
    {0x0e8d, 0x7612},  // MediaTek MT7612U (mt76x2u)
    {0x0e8d, 0x7961},  // MediaTek MT7921AU (mt7921u)
    {0x148f, 0x7601},  // MediaTek/Ralink MT7601U (mt7601u)
    {0x148f, 0x3070},  // Ralink RT3070 (rt2800usb)
    {0x148f, 0x5370},  // Ralink RT5370 (rt2800usb)
    {0x0cf3, 0x9271},  // Qualcomm Atheros AR9271 (ath9k_htc)
}};

}  // namespace

DeviceClass MoreRestrictive(DeviceClass a, DeviceClass b) {
  return Restrictiveness(b) > Restrictiveness(a) ? b : a;
}

std::optional<DeviceClass> ClassOfSetupClass(std::string_view setup_class, uint32_t if_type) {
  const std::string guid = Lower(setup_class);
  if (guid == kNetSetupClass) {
    return if_type == kIfTypeIeee80211 ? DeviceClass::kWifi : DeviceClass::kNetwork;
  }
  if (guid == kBluetoothSetupClass) return DeviceClass::kBluetooth;
  // A modem is a serial line to another network (a phone's CDC ACM
  // function installs as one).
  if (guid == kPortsSetupClass || guid == kModemSetupClass) return DeviceClass::kSerial;
  if (guid == kSmartCardReaderSetupClass) return DeviceClass::kSmartCard;
  if (guid == kBiometricSetupClass) return DeviceClass::kBiometric;
  if (guid == kWpdSetupClass || guid == kImageSetupClass) return DeviceClass::kStillImage;
  if (guid == kPrinterSetupClass) return DeviceClass::kPrinter;
  return std::nullopt;
}

std::optional<DeviceClass> ClassOfService(std::string_view service) {
  if (service.size() > 64) return std::nullopt;
  const std::string name = Lower(service);
  if (name == "usbser") return DeviceClass::kSerial;
  if (name == "rndismp6" || name == "usb_rndisx") return DeviceClass::kNetwork;
  if (name == "bthusb") return DeviceClass::kBluetooth;
  if (name == "wudfwpdmtp") return DeviceClass::kStillImage;
  return std::nullopt;
}

std::optional<DeviceClass> ClassOfMsOsCompatibleId(std::string_view id) {
  constexpr std::string_view kPrefix = "usb\\ms_comp_";
  if (id.size() > kMaxDeviceIdChars) return std::nullopt;
  const std::string lower = Lower(id);
  if (!lower.starts_with(kPrefix)) return std::nullopt;
  std::string_view comp = std::string_view(lower).substr(kPrefix.size());
  comp = comp.substr(0, comp.find('&'));
  if (comp == "mtp" || comp == "ptp") return DeviceClass::kStillImage;
  if (comp == "rndis" || comp == "winncm") return DeviceClass::kNetwork;
  if (comp == "blututh") return DeviceClass::kBluetooth;
  return std::nullopt;
}

bool IsKnownUsbWifi(uint16_t vendor_id, uint16_t product_id) {
  return std::any_of(kWifiUsbIds.begin(), kWifiUsbIds.end(), [&](const VidPid& v) {
    return v.vendor_id == vendor_id && v.product_id == product_id;
  });
}

std::optional<DeviceClass> ClassOfUsbFunction(const DevNode& node) {
  std::optional<DeviceClass> cls;
  const auto triple = MostSpecificUsbClassTriple(node.compatible_ids);
  if (triple) {
    cls = ClassifyUsbInterface(triple->cls, triple->subclass, triple->protocol);
  }
  for (const std::string& id : node.compatible_ids) Tighten(cls, ClassOfMsOsCompatibleId(id));

  if (auto bound = ClassOfSetupClass(node.driver.setup_class, node.driver.if_type)) {
    // Older Windows put UVC webcams in the Image class; a video function is
    // not a camera's file store.
    const bool webcam = *bound == DeviceClass::kStillImage &&
                        Lower(node.driver.setup_class) == kImageSetupClass && triple &&
                        triple->cls == kClassVideo;
    if (!webcam) Tighten(cls, bound);
  }
  Tighten(cls, ClassOfService(node.driver.service));

  const bool unclaimed = !cls || *cls == DeviceClass::kOther || *cls == DeviceClass::kUnspecified;
  if (unclaimed) {
    if (const auto parts = SplitInstanceId(node.instance_id)) {
      if (const auto usb = ParseUsbDevicePart(parts->device);
          usb && IsKnownUsbWifi(usb->vendor_id, usb->product_id)) {
        cls = DeviceClass::kWifi;
      }
    }
  }
  return cls;
}

}  // namespace mamori
