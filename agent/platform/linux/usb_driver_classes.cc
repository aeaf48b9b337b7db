#include "agent/platform/linux/usb_driver_classes.h"

#include <fnmatch.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <utility>

#include "common/base/hex.h"
#include "common/device/usb_class.h"

namespace mamori {
namespace {

// Kernel modules (drivers/net/usb, drivers/net/wireless, drivers/bluetooth,
// drivers/usb/serial, drivers/usb/class, drivers/usb/storage,
// drivers/misc/cardreader) and the class of what they make of a device.
// Storage drivers are listed for card readers and for vendor-specific
// disks (usb-storage's unusual_devs), which are blocked like any disk.
constexpr auto kModules = std::to_array<std::pair<std::string_view, DeviceClass>>({
    // USB Ethernet adapters and tethering.
    {"aqc111", DeviceClass::kNetwork},
    {"asix", DeviceClass::kNetwork},
    {"ax88172a", DeviceClass::kNetwork},
    {"ax88179_178a", DeviceClass::kNetwork},
    {"catc", DeviceClass::kNetwork},
    {"cdc_eem", DeviceClass::kNetwork},
    {"cdc_ether", DeviceClass::kNetwork},
    {"cdc_mbim", DeviceClass::kNetwork},
    {"cdc_ncm", DeviceClass::kNetwork},
    {"cdc_subset", DeviceClass::kNetwork},
    {"cx82310_eth", DeviceClass::kNetwork},
    {"dm9601", DeviceClass::kNetwork},
    {"gl620a", DeviceClass::kNetwork},
    {"hso", DeviceClass::kNetwork},
    {"huawei_cdc_ncm", DeviceClass::kNetwork},
    {"int51x1", DeviceClass::kNetwork},
    {"ipheth", DeviceClass::kNetwork},  // iPhone personal hotspot over USB
    {"kalmia", DeviceClass::kNetwork},
    {"kaweth", DeviceClass::kNetwork},
    {"lan78xx", DeviceClass::kNetwork},
    {"mcs7830", DeviceClass::kNetwork},
    {"net1080", DeviceClass::kNetwork},
    {"pegasus", DeviceClass::kNetwork},
    {"plusb", DeviceClass::kNetwork},
    {"qmi_wwan", DeviceClass::kNetwork},
    {"r8152", DeviceClass::kNetwork},
    {"r8153_ecm", DeviceClass::kNetwork},
    {"rndis_host", DeviceClass::kNetwork},
    {"rtl8150", DeviceClass::kNetwork},
    {"sierra_net", DeviceClass::kNetwork},
    {"smsc75xx", DeviceClass::kNetwork},
    {"smsc95xx", DeviceClass::kNetwork},
    {"sr9700", DeviceClass::kNetwork},
    {"sr9800", DeviceClass::kNetwork},
    {"zaurus", DeviceClass::kNetwork},
    // Mobile broadband modems: a way onto another network.
    {"option", DeviceClass::kNetwork},
    {"qcserial", DeviceClass::kNetwork},
    {"sierra", DeviceClass::kNetwork},
    {"usb_wwan", DeviceClass::kNetwork},
    // Wi-Fi adapters.
    {"ar5523", DeviceClass::kWifi},
    {"at76c50x_usb", DeviceClass::kWifi},
    {"ath6kl_usb", DeviceClass::kWifi},
    {"ath9k_htc", DeviceClass::kWifi},
    {"ath10k_usb", DeviceClass::kWifi},
    {"brcmfmac", DeviceClass::kWifi},
    {"carl9170", DeviceClass::kWifi},
    {"mt7601u", DeviceClass::kWifi},
    {"mt7663u", DeviceClass::kWifi},
    {"mt76x0u", DeviceClass::kWifi},
    {"mt76x2u", DeviceClass::kWifi},
    {"mt7921u", DeviceClass::kWifi},
    {"mt7925u", DeviceClass::kWifi},
    {"mwifiex_usb", DeviceClass::kWifi},
    {"orinoco_usb", DeviceClass::kWifi},
    {"p54usb", DeviceClass::kWifi},
    {"rndis_wlan", DeviceClass::kWifi},
    {"rsi_usb", DeviceClass::kWifi},
    {"rt2500usb", DeviceClass::kWifi},
    {"rt2800usb", DeviceClass::kWifi},
    {"rt73usb", DeviceClass::kWifi},
    {"rtl8187", DeviceClass::kWifi},
    {"rtl8192cu", DeviceClass::kWifi},
    {"rtl8192du", DeviceClass::kWifi},
    {"rtl8xxxu", DeviceClass::kWifi},
    {"rtw88_8723du", DeviceClass::kWifi},
    {"rtw88_8812au", DeviceClass::kWifi},
    {"rtw88_8821au", DeviceClass::kWifi},
    {"rtw88_8821cu", DeviceClass::kWifi},
    {"rtw88_8822bu", DeviceClass::kWifi},
    {"rtw88_8822cu", DeviceClass::kWifi},
    {"rtw89_8851bu", DeviceClass::kWifi},
    {"rtw89_8852bu", DeviceClass::kWifi},
    {"usb8xxx", DeviceClass::kWifi},
    {"zd1211rw", DeviceClass::kWifi},
    // Bluetooth controllers.
    {"ath3k", DeviceClass::kBluetooth},
    {"bcm203x", DeviceClass::kBluetooth},
    {"bfusb", DeviceClass::kBluetooth},
    {"bpa10x", DeviceClass::kBluetooth},
    {"btusb", DeviceClass::kBluetooth},
    // USB-serial bridges and CDC ACM: a cable to another computer.
    {"ark3116", DeviceClass::kSerial},
    {"belkin_sa", DeviceClass::kSerial},
    {"cdc_acm", DeviceClass::kSerial},
    {"ch341", DeviceClass::kSerial},
    {"cp210x", DeviceClass::kSerial},
    {"cypress_m8", DeviceClass::kSerial},
    {"digi_acceleport", DeviceClass::kSerial},
    {"f81232", DeviceClass::kSerial},
    {"f81534", DeviceClass::kSerial},
    {"ftdi_sio", DeviceClass::kSerial},
    {"io_edgeport", DeviceClass::kSerial},
    {"io_ti", DeviceClass::kSerial},
    {"ipaq", DeviceClass::kSerial},
    {"ir_usb", DeviceClass::kSerial},
    {"keyspan", DeviceClass::kSerial},
    {"kl5kusb105", DeviceClass::kSerial},
    {"mct_u232", DeviceClass::kSerial},
    {"metro_usb", DeviceClass::kSerial},
    {"mos7720", DeviceClass::kSerial},
    {"mos7840", DeviceClass::kSerial},
    {"mxuport", DeviceClass::kSerial},
    {"oti6858", DeviceClass::kSerial},
    {"pl2303", DeviceClass::kSerial},
    {"quatech2", DeviceClass::kSerial},
    {"spcp8x5", DeviceClass::kSerial},
    {"ssu100", DeviceClass::kSerial},
    {"ti_usb_3410_5052", DeviceClass::kSerial},
    {"upd78f0730", DeviceClass::kSerial},
    {"usb_serial_simple", DeviceClass::kSerial},
    {"visor", DeviceClass::kSerial},
    {"whiteheat", DeviceClass::kSerial},
    {"xr_serial", DeviceClass::kSerial},
    // USB-to-USB bridge cables ("link cables") are networks too.
    {"cdc_subset_bridge", DeviceClass::kNetwork},
    // Card readers with vendor-specific interfaces.
    {"rtsx_usb", DeviceClass::kCardReader},
    {"ums_alauda", DeviceClass::kCardReader},
    {"ums_datafab", DeviceClass::kCardReader},
    {"ums_eneub6250", DeviceClass::kCardReader},
    {"ums_jumpshot", DeviceClass::kCardReader},
    {"ums_realtek", DeviceClass::kCardReader},
    {"ums_sddr09", DeviceClass::kCardReader},
    {"ums_sddr55", DeviceClass::kCardReader},
    // Vendor-specific disks.
    {"ums_cypress", DeviceClass::kMassStorage},
    {"ums_freecom", DeviceClass::kMassStorage},
    {"ums_isd200", DeviceClass::kMassStorage},
    {"ums_karma", DeviceClass::kMassStorage},
    {"ums_onetouch", DeviceClass::kMassStorage},
    {"ums_usbat", DeviceClass::kMassStorage},
    {"uas", DeviceClass::kMassStorage},
    {"usb_storage", DeviceClass::kMassStorage},
});

std::string NormalizeModule(std::string_view module) {
  std::string m(module);
  std::replace(m.begin(), m.end(), '-', '_');
  return m;
}

// "usb:v0BDAp8153d*..." -> 0x0bda; nullopt when the vendor is a pattern.
std::optional<uint16_t> LiteralVendor(std::string_view pattern) {
  if (pattern.size() < 10 || !pattern.starts_with("usb:v")) return std::nullopt;
  uint16_t v = 0;
  for (std::size_t i = 5; i < 9; ++i) {
    const int d = HexDigit(pattern[i]);
    if (d < 0) return std::nullopt;
    v = static_cast<uint16_t>(v * 16 + d);
  }
  return pattern[9] == 'p' ? std::optional<uint16_t>(v) : std::nullopt;
}

std::string_view NextField(std::string_view& line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  std::size_t end = 0;
  while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
  const std::string_view field = line.substr(0, end);
  line.remove_prefix(end);
  return field;
}

}  // namespace

std::optional<DeviceClass> ClassOfUsbDriverModule(std::string_view module) {
  const std::string m = NormalizeModule(module);
  for (const auto& [name, cls] : kModules) {
    if (name == m) return cls;
  }
  return std::nullopt;
}

std::string UsbInterfaceModalias(uint16_t vendor_id, uint16_t product_id, uint16_t bcd_device,
                                 uint8_t device_class, uint8_t device_subclass,
                                 uint8_t device_protocol, uint8_t interface_class,
                                 uint8_t interface_subclass, uint8_t interface_protocol,
                                 uint8_t interface_number) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "usb:v%04Xp%04Xd%04Xdc%02Xdsc%02Xdp%02Xic%02Xisc%02Xip%02Xin%02X",
                vendor_id, product_id, bcd_device, device_class, device_subclass, device_protocol,
                interface_class, interface_subclass, interface_protocol, interface_number);
  return buf;
}

void UsbDriverClasses::Add(std::string pattern, std::string module, DeviceClass cls) {
  Alias a{std::move(pattern), std::move(module), cls};
  if (auto v = LiteralVendor(a.pattern)) {
    by_vendor_[*v].push_back(std::move(a));
  } else {
    any_vendor_.push_back(std::move(a));
  }
  ++count_;
}

Result<UsbDriverClasses> UsbDriverClasses::Parse(std::string_view text) {
  if (text.size() > kMaxFileBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "modules.alias: " + std::to_string(text.size()) +
                                                      " bytes, more than " +
                                                      std::to_string(kMaxFileBytes));
  }
  UsbDriverClasses out;
  while (!text.empty() && out.count_ < kMaxAliases) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (NextField(line) != "alias") continue;
    const std::string_view pattern = NextField(line);
    if (!pattern.starts_with("usb:")) continue;
    const std::string_view module = NextField(line);
    const auto cls = ClassOfUsbDriverModule(module);
    if (!cls) continue;
    out.Add(std::string(pattern), NormalizeModule(module), *cls);
  }
  return out;
}

Result<UsbDriverClasses> UsbDriverClasses::LoadRunningKernel() {
  utsname u{};
  if (uname(&u) != 0) return MakeError(ErrorCode::kIo, "uname failed");
  const std::string path = std::string("/lib/modules/") + u.release + "/modules.alias";
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, path + ": cannot open");
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  auto parsed = Parse(text);
  if (!parsed.ok()) return MakeError(parsed.error().code, path + ": " + parsed.error().message);
  return parsed;
}

std::optional<UsbDriverClasses::Match> UsbDriverClasses::Classify(std::string_view modalias) const {
  const std::string alias(modalias);
  std::optional<Match> best;
  const auto scan = [&](const std::vector<Alias>& aliases) {
    for (const Alias& a : aliases) {
      if (fnmatch(a.pattern.c_str(), alias.c_str(), 0) != 0) continue;
      if (!best || UsbClassSensitivity(a.cls) < UsbClassSensitivity(best->cls)) {
        best = Match{a.cls, a.module};
      }
    }
  };
  if (auto v = LiteralVendor(alias)) {
    if (auto it = by_vendor_.find(*v); it != by_vendor_.end()) scan(it->second);
  }
  scan(any_vendor_);
  return best;
}

}  // namespace mamori
