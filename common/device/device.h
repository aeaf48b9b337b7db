#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mamori {

// Broad class of a USB device or interface (mirrors mamori.v1.DeviceClass).
enum class DeviceClass {
  kUnspecified,
  kMassStorage,
  kStillImage,  // MTP/PTP
  kOptical,
  kCardReader,
  kPrinter,
  kWireless,
  kHid,
  kHub,
  kOther,
  kNetwork,    // Ethernet and tethering: CDC ECM/NCM/EEM, RNDIS, USB Ethernet adapters
  kSerial,     // CDC ACM and USB-serial bridges
  kBluetooth,  // Bluetooth controllers
  kWifi,       // Wi-Fi adapters
  kSmartCard,  // CCID smart-card readers (class 0x0B), e.g. the My Number card reader
  kBiometric,  // fingerprint and other biometric readers
};

// Stable lower-case names used in policy files and CLI output:
// "mass_storage", "still_image", "optical", "card_reader", "printer",
// "wireless", "hid", "hub", "other", "network", "serial", "bluetooth", "wifi",
// "smart_card", "biometric", "unspecified".
std::string_view DeviceClassName(DeviceClass c);
std::optional<DeviceClass> ParseDeviceClass(std::string_view name);

// True for classes that can carry data off the terminal as a file system
// (mass storage, optical, card readers, MTP/PTP).
bool IsRemovableStorage(DeviceClass c);

enum class Action { kUnspecified, kAllow, kReadOnly, kBlock };

// "allow", "read_only", "block", "unspecified".
std::string_view ActionName(Action a);
std::optional<Action> ParseAction(std::string_view name);

// What a device says about itself. Strings are raw bytes as reported by the
// device (attacker-controlled); see sanitize.h before showing or storing them.
struct DeviceIdentity {
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  std::string serial;
  std::string manufacturer;
  std::string product;
  std::string bus_path;
  DeviceClass device_class = DeviceClass::kUnspecified;
  std::vector<DeviceClass> interface_classes;
  std::string descriptor_hash;

  // True if the device or any of its interfaces is removable storage.
  bool HasStorage() const;
  // "vvvv:pppp" in lower-case hex.
  std::string VidPid() const;
};

// "vvvv:pppp" in lower-case hex, as lsusb shows a USB id pair.
std::string FormatVidPid(uint16_t vendor_id, uint16_t product_id);
// "vvvv:pppp", four hex digits each, either case; nullopt otherwise.
std::optional<std::pair<uint16_t, uint16_t>> ParseVidPid(std::string_view text);

// The outcome of evaluating a device against a policy, and of enforcing it.
struct Decision {
  Action action = Action::kUnspecified;
  std::string matched_rule;  // rule name, or "default"
  // For a composite device that is blocked as a whole (a keyboard with a
  // storage interface): the interface classes that stay usable. The backend
  // then authorizes the device and only its interfaces of these classes, so
  // the keyboard works and the storage does not. Empty: the action applies
  // to every interface.
  std::vector<DeviceClass> allowed_interface_classes;
  bool enforced = false;
  std::string enforcement_error;
};

// A device present on a terminal.
struct Device {
  std::string device_id;  // agent-local stable id (e.g. sysfs name, file name)
  DeviceIdentity identity;
  Decision decision;
  int64_t first_seen_ms = 0;  // Unix epoch milliseconds
};

}  // namespace mamori
