#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/device/device.h"

namespace mamori {

// The class of a vendor-specific USB function told by the kernel driver
// that WOULD bind it: USB Ethernet adapters (r8152, ax88179_178a, asix...),
// Wi-Fi adapters (rtl8xxxu, rtw88_*, mt76*, ath9k_htc, rt2800usb...),
// Bluetooth controllers (btusb), USB-serial bridges (ftdi_sio, cp210x,
// pl2303, ch341...), card readers (rtsx_usb, ums_realtek...). The driver is
// found by matching the function's modalias against the running kernel's
// modules.alias, as modprobe would; nothing is loaded or bound.
//
// Limits: a module missing from the table below, a driver the running
// kernel does not ship, or a device no driver claims stays `other`.

// The class the table gives a kernel module ("r8152"; '-' and '_' alike);
// nullopt for modules it does not list.
std::optional<DeviceClass> ClassOfUsbDriverModule(std::string_view module);

// The modalias the kernel gives a USB interface (drivers/usb/core/
// message.c, usb_if_uevent):
// "usb:vVVVVpPPPPdDDDDdcXXdscXXdpXXicXXiscXXipXXinXX", upper-case hex.
std::string UsbInterfaceModalias(uint16_t vendor_id, uint16_t product_id, uint16_t bcd_device,
                                 uint8_t device_class, uint8_t device_subclass,
                                 uint8_t device_protocol, uint8_t interface_class,
                                 uint8_t interface_subclass, uint8_t interface_protocol,
                                 uint8_t interface_number);

class UsbDriverClasses {
 public:
  // The largest modules.alias read, and the most aliases kept: a current
  // distribution kernel has about 1.5 MiB and a few thousand USB aliases of
  // listed modules.
  static constexpr std::size_t kMaxFileBytes = std::size_t{32} << 20;
  static constexpr std::size_t kMaxAliases = 50'000;

  // No aliases: classifies nothing.
  UsbDriverClasses() = default;

  // Keeps the "alias usb:... <module>" lines of modules listed in the
  // table; every other line is skipped. Errors: more than kMaxFileBytes.
  static Result<UsbDriverClasses> Parse(std::string_view modules_alias);
  // /lib/modules/<release of the running kernel>/modules.alias.
  static Result<UsbDriverClasses> LoadRunningKernel();

  struct Match {
    DeviceClass cls = DeviceClass::kUnspecified;
    std::string module;
  };
  // The first listed driver whose alias matches `modalias` (fnmatch, as
  // modprobe does); the most sensitive class when several do.
  std::optional<Match> Classify(std::string_view modalias) const;

  std::size_t size() const { return count_; }

 private:
  struct Alias {
    std::string pattern;
    std::string module;
    DeviceClass cls = DeviceClass::kUnspecified;
  };
  void Add(std::string pattern, std::string module, DeviceClass cls);

  // Aliases naming one vendor ("usb:v0BDAp...") by that vendor; the rest
  // ("usb:v*p*...", class-based) apart. Each lookup then scans only its
  // vendor's aliases and the few generic ones.
  std::map<uint16_t, std::vector<Alias>> by_vendor_;
  std::vector<Alias> any_vendor_;
  std::size_t count_ = 0;
};

}  // namespace mamori
