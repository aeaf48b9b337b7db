#include "server/policy/policy_dry_run.h"

#include <algorithm>
#include <map>

#include "common/policy/policy.h"
#include "common/policy/policy_parser.h"
#include "common/policy/rule_engine.h"
#include "server/policy/ledger_policy.h"

namespace mamori {

Result<PolicyDryRun> DryRunPolicy(const PolicyHub& hub, Store& store, std::string_view group,
                                  std::string_view yaml, std::string_view source_name,
                                  int64_t now_ms) {
  Result<Policy> validated = PolicyHub::Validate(group, yaml, source_name);
  if (!validated.ok()) return validated.error();
  // What Apply would store: the document with the media ledger merged in.
  auto ledger = store.ListLedger(/*include_retired=*/true);
  if (!ledger.ok()) return ledger.error();
  Result<std::string> merged = MergeLedgerIntoPolicy(yaml, group, *ledger, source_name);
  if (!merged.ok()) return merged.error();
  Result<Policy> parsed =
      *merged == yaml ? std::move(validated) : ParsePolicy(*merged, source_name);
  if (!parsed.ok()) return parsed.error();
  const Policy& next = *parsed;
  yaml = *merged;

  PolicyDryRun run;
  run.new_policy_name = next.name;
  run.current = hub.Resolve(group);
  const uint64_t current_version = run.current ? run.current->stored.version : 0;
  const std::string current_name =
      run.current ? run.current->stored.group + " v" + std::to_string(current_version)
                  : std::string("(none: built-in default)");
  run.diff = DiffLines(run.current ? std::string_view(run.current->stored.policy_yaml) : "", yaml,
                       current_name, source_name.empty() ? "new" : source_name);

  auto terminals = store.ListTerminals(group);
  if (!terminals.ok()) return terminals.error();
  const Policy builtin = BuiltinDefaultPolicy();
  const Policy& before = run.current ? *run.current->policy : builtin;
  // Whether a terminal group resolves to what `group` resolves to now; only
  // then does the new policy reach it. Versions are unique deployment-wide,
  // but comparing the owning group says what is meant.
  std::map<std::string, bool, std::less<>> reached;
  auto is_reached = [&](const std::string& g) {
    auto it = reached.find(g);
    if (it != reached.end()) return it->second;
    const std::optional<ResolvedPolicy> r = hub.Resolve(g);
    const bool yes = r ? (run.current && r->stored.group == run.current->stored.group &&
                          r->stored.version == current_version)
                       : !run.current;
    reached.emplace(g, yes);
    return yes;
  };

  for (TerminalState& t : *terminals) {
    if (!is_reached(t.group)) continue;
    ++run.terminals_examined;
    std::sort(t.devices.begin(), t.devices.end(),
              [](const Device& a, const Device& b) { return a.device_id < b.device_id; });
    for (Device& d : t.devices) {
      ++run.devices_examined;
      Decision old_decision = Evaluate(before, d.identity, now_ms);
      Decision new_decision = Evaluate(next, d.identity, now_ms);
      if (old_decision.action == new_decision.action &&
          old_decision.allowed_interface_classes == new_decision.allowed_interface_classes) {
        continue;
      }
      run.changes.push_back(DecisionChange{t.terminal_id, t.group, std::move(d),
                                           std::move(old_decision), std::move(new_decision)});
    }
  }
  return run;
}

}  // namespace mamori
