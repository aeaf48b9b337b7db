#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/device/device.h"
#include "server/policy/policy_hub.h"
#include "server/policy/text_diff.h"
#include "server/store/store.h"

namespace mamori {

// A present device whose decision a new policy would change.
struct DecisionChange {
  std::string terminal_id;
  std::string terminal_group;
  Device device;  // as last reported (strings sanitized at ingest)
  Decision old_decision;
  Decision new_decision;
};

// What applying a policy to a group would do, without doing it.
struct PolicyDryRun {
  // The policy in force for the group now (its own or inherited); nullopt
  // when none is and agents use the built-in default.
  std::optional<ResolvedPolicy> current;
  std::string new_policy_name;
  // Current document -> new one ("" when there is no current document).
  TextDiff diff;
  std::vector<DecisionChange> changes;  // by terminal id, then device id
  uint32_t terminals_examined = 0;      // terminals whose policy would change
  uint32_t devices_examined = 0;
};

// Validates exactly as PolicyHub::Apply does (same errors) and stores
// nothing. The devices considered are those last reported by terminals in
// `group` or below that would be governed by the new policy: a descendant
// group with a policy of its own is not affected.
//
// Both decisions are computed here with the rule engine, the old one under
// the policy in force now (or the built-in default), so a change is due to
// the policy alone rather than to an agent that has not caught up. A device
// is listed when its action or its usable interface classes change; a
// different rule reaching the same outcome is not a change.
Result<PolicyDryRun> DryRunPolicy(const PolicyHub& hub, Store& store, std::string_view group,
                                  std::string_view yaml, std::string_view source_name,
                                  int64_t now_ms);

}  // namespace mamori
