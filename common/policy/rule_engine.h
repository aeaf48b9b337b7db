#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/device/device.h"
#include "common/policy/policy.h"

namespace mamori {

// The policy in force when an agent has none: removable storage blocked,
// everything else allowed.
Policy BuiltinDefaultPolicy();

// Name recorded as matched_rule when no rule matched.
inline constexpr std::string_view kDefaultRuleName = "default";

// First matching rule wins; otherwise the policy defaults apply.
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
