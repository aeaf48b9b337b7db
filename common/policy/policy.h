#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/device/device.h"

namespace mamori {

// Conditions of a rule. Every condition that is set must hold (AND); within a
// list condition any element may match (OR). A rule with no condition at all
// is rejected by the parser.
struct DeviceMatch {
  std::optional<uint16_t> vendor_id;
  std::optional<uint16_t> product_id;
  std::vector<std::string> serials;
  // Matches when the device class or any interface class is listed.
  std::vector<DeviceClass> classes;
  std::optional<std::string> manufacturer;     // exact
  std::optional<std::string> product;          // exact
  std::optional<std::string> bus_path;         // exact
  std::optional<std::string> descriptor_hash;  // lower-case hex SHA-256
  // When true, the device must be in the policy's registered media list
  // (serial and vendor:product equal, entry not expired).
  bool registered_media = false;
};

struct Rule {
  std::string name;  // unique within the policy
  DeviceMatch match;
  Action action = Action::kBlock;
  int line = 0;  // where it was defined, for messages
};

// One entry of the media ledger (外部記録媒体管理台帳).
struct RegisteredMedium {
  std::string serial;
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  std::string owner;
  std::string department;
  int64_t expires_ms = 0;  // 0 = no expiry; otherwise end of the expiry day, UTC
};

// A time-limited exception: one device allowed on one terminal (or on every
// terminal the policy governs) inside a window of absolute time. Approved
// exceptions reach agents inside the signed policy, with the window set by
// the collector's clock; an offline unlock code becomes one on the terminal
// it was issued for. The device is named exactly (vid:pid and serial): an
// exception never covers a class of devices.
struct DeviceException {
  std::string id;           // e.g. "EX-12" (approved request) or "unlock-..." (unlock code)
  std::string terminal_id;  // empty: every terminal governed by the policy
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  std::string serial;         // exact; never empty
  int64_t not_before_ms = 0;  // Unix epoch milliseconds, collector's clock
  int64_t not_after_ms = 0;   // exclusive
  std::string reason;
};

// The per-class defaults of the My Number profile: every class that is a way
// off the terminal or onto another network is blocked (network, serial,
// bluetooth, wifi, and the remaining wireless controllers); the My Number
// card reader and fingerprint readers for two-factor login stay usable.
// Classes not listed here (printers, audio, video, vendor-specific devices
// nothing recognises) fall under `default_other_action`, as before. Storage classes,
// HID and hubs have their own rules (see rule_engine.h).
inline std::map<DeviceClass, Action> MyNumberClassDefaults() {
  return {
      {DeviceClass::kNetwork, Action::kBlock},   {DeviceClass::kSerial, Action::kBlock},
      {DeviceClass::kBluetooth, Action::kBlock}, {DeviceClass::kWifi, Action::kBlock},
      {DeviceClass::kWireless, Action::kBlock},  {DeviceClass::kSmartCard, Action::kAllow},
      {DeviceClass::kBiometric, Action::kAllow},
  };
}

struct Policy {
  std::string name;
  std::string description;
  // Applied when no rule matches a device that has storage.
  Action default_storage_action = Action::kBlock;
  // Applied when no rule matches any other device (HID and hubs are always
  // allowed unless a rule says otherwise).
  Action default_other_action = Action::kAllow;
  // Applied when no rule matches a device that has no storage but a class
  // listed here (its own or an interface's); allow or block. A policy file
  // overrides entries one by one under `defaults:`; the others keep these.
  std::map<DeviceClass, Action> class_defaults = MyNumberClassDefaults();
  std::vector<Rule> rules;
  std::vector<RegisteredMedium> registered_media;
  std::vector<DeviceException> exceptions;
};

}  // namespace mamori
