#pragma once

#include <cstdint>
#include <string_view>

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

}  // namespace mamori
