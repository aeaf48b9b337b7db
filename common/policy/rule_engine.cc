// Evaluate(): the decision for one device under one policy. Kept apart from
// the parser so the agent's hot path does not drag YAML handling into view.
#include "common/policy/rule_engine.h"

#include <algorithm>
#include <cctype>

#include "common/device/usb_class.h"
#include "common/policy/policy.h"

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

int Strictness(Action a) {
  switch (a) {
    case Action::kAllow:
      return 0;
    case Action::kReadOnly:
      return 1;
    case Action::kBlock:
    case Action::kUnspecified:
      break;
  }
  return 2;
}

// A device without storage that is not plainly input: every class it shows
// (its own and its interfaces') is judged by its class default, or by
// `other` when it has none, and the strictest wins; among equals, the most
// sensitive class names the decision.
void ApplyClassDefaults(const Policy& policy, const DeviceIdentity& device, Decision& d) {
  std::vector<DeviceClass> classes;
  if (device.device_class != DeviceClass::kUnspecified) classes.push_back(device.device_class);
  for (DeviceClass c : device.interface_classes) {
    if (c != DeviceClass::kUnspecified) classes.push_back(c);
  }
  std::sort(classes.begin(), classes.end(), [](DeviceClass a, DeviceClass b) {
    return UsbClassSensitivity(a) < UsbClassSensitivity(b);
  });
  d.action = policy.default_other_action;
  d.matched_rule = std::string(kDefaultRuleName);
  bool judged = false;
  for (DeviceClass c : classes) {
    if (IsHidOrHub(c)) continue;
    const auto it = policy.class_defaults.find(c);
    const Action a = it != policy.class_defaults.end() ? it->second : policy.default_other_action;
    if (!judged || Strictness(a) > Strictness(d.action)) {
      d.action = a;
      d.matched_rule =
          it != policy.class_defaults.end() ? DefaultRuleNameFor(c) : std::string(kDefaultRuleName);
      judged = true;
    }
  }
}

// The decision for the device as a whole: the first matching rule, else the
// policy defaults.
Decision EvaluateWhole(const Policy& policy, const DeviceIdentity& device, int64_t now_ms) {
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
    ApplyClassDefaults(policy, device, d);
  }
  return d;
}

// The distinct interface classes of a blocked composite device that policy
// allows when each is judged on its own. The backend enforces per interface,
// so each copy asks about one interface alone: it takes the interface's class
// as its device class (a composite device says class 0 and names its classes
// per interface), and keeps every other field, so rules on vid:pid, serial,
// names or the media ledger still match the copy. An unspecified interface
// class cannot be named in a rule or checked by an administrator, so it is
// never kept.
std::vector<DeviceClass> AllowedInterfaceClasses(const Policy& policy, const DeviceIdentity& device,
                                                 int64_t now_ms) {
  std::vector<DeviceClass> classes;
  for (DeviceClass c : device.interface_classes) {
    if (c != DeviceClass::kUnspecified) classes.push_back(c);
  }
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  // One class: the interface is the device, and the device is blocked.
  if (classes.size() < 2) return {};

  std::vector<DeviceClass> allowed;
  DeviceIdentity one = device;
  for (DeviceClass c : classes) {
    one.device_class = c;
    one.interface_classes = {c};
    if (EvaluateWhole(policy, one, now_ms).action == Action::kAllow) allowed.push_back(c);
  }
  return allowed;
}

}  // namespace

std::string DefaultRuleNameFor(DeviceClass c) {
  return std::string(kDefaultRuleName) + ":" + std::string(DeviceClassName(c));
}

bool IsDefaultRuleName(std::string_view matched_rule) {
  return matched_rule == kDefaultRuleName || (matched_rule.size() > kDefaultRuleName.size() + 1 &&
                                              matched_rule.starts_with(kDefaultRuleName) &&
                                              matched_rule[kDefaultRuleName.size()] == ':');
}

Decision Evaluate(const Policy& policy, const DeviceIdentity& device, int64_t now_ms) {
  Decision d = EvaluateWhole(policy, device, now_ms);
  // Only a block is split: under allow or read_only every interface is
  // usable already.
  if (d.action == Action::kBlock) {
    d.allowed_interface_classes = AllowedInterfaceClasses(policy, device, now_ms);
  }
  return d;
}

const DeviceException* ActiveException(const std::vector<DeviceException>& exceptions,
                                       std::string_view terminal_id, const DeviceIdentity& device,
                                       int64_t now_ms) {
  if (device.serial.empty()) return nullptr;
  const DeviceException* best = nullptr;
  for (const DeviceException& e : exceptions) {
    if (e.serial.empty() || e.serial != device.serial || e.vendor_id != device.vendor_id ||
        e.product_id != device.product_id) {
      continue;
    }
    if (!e.terminal_id.empty() && e.terminal_id != terminal_id) continue;
    if (now_ms < e.not_before_ms || now_ms >= e.not_after_ms) continue;
    if (best == nullptr || e.not_after_ms > best->not_after_ms) best = &e;
  }
  return best;
}

// Here rather than in policy.cc so that builds without the YAML parser
// (the mingw cross build) have it.
Policy BuiltinDefaultPolicy() {
  Policy p;
  p.name = "builtin-default";
  p.description =
      "Built-in policy used until a signed policy arrives: removable storage, network, "
      "serial, Bluetooth and Wi-Fi blocked; input, hubs, smart-card and fingerprint "
      "readers allowed.";
  p.default_storage_action = Action::kBlock;
  p.default_other_action = Action::kAllow;
  p.class_defaults = MyNumberClassDefaults();
  return p;
}

}  // namespace mamori
