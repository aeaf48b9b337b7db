// Evaluate(): the decision for one device under one policy. Kept apart from
// the parser so the agent's hot path does not drag YAML handling into view.
#include <algorithm>
#include <cctype>

#include "common/policy.h"

namespace mamori {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool IsRegistered(const Policy& policy, const DeviceIdentity& device, int64_t now_ms) {
  return std::any_of(policy.registered_media.begin(), policy.registered_media.end(),
                     [&](const RegisteredMedium& m) {
                       return m.vendor_id == device.vendor_id &&
                              m.product_id == device.product_id && m.serial == device.serial &&
                              (m.expires_ms == 0 || now_ms <= m.expires_ms);
                     });
}

bool ClassMatches(const std::vector<DeviceClass>& wanted, const DeviceIdentity& device) {
  const auto listed = [&](DeviceClass c) {
    return std::find(wanted.begin(), wanted.end(), c) != wanted.end();
  };
  return listed(device.device_class) ||
         std::any_of(device.interface_classes.begin(), device.interface_classes.end(), listed);
}

bool Matches(const DeviceMatch& m, const Policy& policy, const DeviceIdentity& device,
             int64_t now_ms) {
  if (m.vendor_id && *m.vendor_id != device.vendor_id) return false;
  if (m.product_id && *m.product_id != device.product_id) return false;
  if (!m.serials.empty() &&
      std::find(m.serials.begin(), m.serials.end(), device.serial) == m.serials.end()) {
    return false;
  }
  if (!m.classes.empty() && !ClassMatches(m.classes, device)) return false;
  if (m.manufacturer && *m.manufacturer != device.manufacturer) return false;
  if (m.product && *m.product != device.product) return false;
  if (m.bus_path && *m.bus_path != device.bus_path) return false;
  if (m.descriptor_hash && !EqualsIgnoreCase(*m.descriptor_hash, device.descriptor_hash)) {
    return false;
  }
  if (m.registered_media && !IsRegistered(policy, device, now_ms)) return false;
  return true;
}

bool IsHidOrHub(DeviceClass c) { return c == DeviceClass::kHid || c == DeviceClass::kHub; }

// Keyboards, mice and hubs must keep working whatever defaults.other says,
// or a policy typo locks staff out of the terminal. Most keyboards declare
// their class per interface (device class 0), so a device whose every
// interface is HID or hub counts too; one with any other interface (a
// Bluetooth dongle that also offers HID) does not.
bool IsInputOrHub(const DeviceIdentity& device) {
  if (IsHidOrHub(device.device_class)) return true;
  return device.device_class == DeviceClass::kUnspecified && !device.interface_classes.empty() &&
         std::all_of(device.interface_classes.begin(), device.interface_classes.end(), IsHidOrHub);
}

}  // namespace

Decision Evaluate(const Policy& policy, const DeviceIdentity& device, int64_t now_ms) {
  Decision d;
  for (const Rule& rule : policy.rules) {
    if (Matches(rule.match, policy, device, now_ms)) {
      d.action = rule.action;
      d.matched_rule = rule.name;
      return d;
    }
  }
  d.matched_rule = std::string(kDefaultRuleName);
  if (device.HasStorage()) {
    d.action = policy.default_storage_action;
  } else if (IsInputOrHub(device)) {
    d.action = Action::kAllow;
  } else {
    d.action = policy.default_other_action;
  }
  return d;
}

}  // namespace mamori
