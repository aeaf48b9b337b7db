#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/device/device.h"
#include "common/policy/policy.h"

namespace mamori {

// The policy in force when an agent has none, the My Number profile:
// removable storage blocked, and the classes of MyNumberClassDefaults()
// (network, serial, bluetooth, wifi, wireless blocked; smart_card,
// biometric allowed); HID and hubs allowed; everything else (`other`:
// printers, audio, video, unrecognised vendor devices) allowed.
Policy BuiltinDefaultPolicy();

// Name recorded as matched_rule when no rule matched and the decision came
// from `defaults.storage`, from `defaults.other`, or from HID and hubs
// being always allowed.
inline constexpr std::string_view kDefaultRuleName = "default";
// "default:network": no rule matched and the class default of `c` decided.
std::string DefaultRuleNameFor(DeviceClass c);
// True for "default" and "default:<class>".
bool IsDefaultRuleName(std::string_view matched_rule);

// First matching rule wins; otherwise the policy defaults apply: storage
// devices take `default_storage_action`; devices whose every class is HID
// or hub are allowed; any other device is judged per class it shows (its
// own and its interfaces'): a class in `class_defaults` by its entry, any
// other by `default_other_action`; the strictest wins, and a class default
// that decides is named in matched_rule ("default:network").
// `now_ms` decides whether a registered medium has expired. When the device
// is blocked and has interfaces of two or more classes, each class is judged
// on its own as well, and those allowed are listed in
// `allowed_interface_classes` (sorted, unique); action and matched_rule stay
// those of the whole device.
Decision Evaluate(const Policy& policy, const DeviceIdentity& device, int64_t now_ms);

// The exception among `exceptions` that allows `device` on `terminal_id` at
// `now_ms` (window [not_before_ms, not_after_ms), same vid:pid and serial, and
// for this terminal or for every terminal); the one that ends last when
// several do. nullptr when none does. A device without a serial never
// matches: it cannot be told from its twins.
const DeviceException* ActiveException(const std::vector<DeviceException>& exceptions,
                                       std::string_view terminal_id, const DeviceIdentity& device,
                                       int64_t now_ms);

}  // namespace mamori
