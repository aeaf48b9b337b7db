#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/policy/policy.h"
#include "common/policy/policy_signing.h"
#include "server/store/store.h"

namespace mamori {

// A stored policy with its parsed form.
struct ResolvedPolicy {
  PolicyBundle stored;
  std::shared_ptr<const Policy> policy;
  bool inherited = false;  // applied to an ancestor of the group asked for
};

// Holds the latest policy of every group, resolves inheritance (a group
// without its own policy uses its nearest ancestor's) and tells watchers
// when the policy in force for their group changes.
class PolicyHub {
 public:
  using WatchId = uint64_t;
  // Called with the policy now in force for the watcher's group. Runs under
  // the hub's lock: it must not call back into the hub.
  using OnChange = std::function<void(const ResolvedPolicy&)>;
  // Called (under the hub's lock) when the hub ends a watch: `why` says
  // whether the collector is stopping or the terminal was revoked.
  using OnClose = std::function<void(const Error& why)>;

  // Every version is signed with `signing_key` when applied, and the
  // signature stored with it, so every agent gets byte-identical bundles.
  PolicyHub(Store* store, const Clock* clock, PolicySigningKey signing_key);

  // Signs stored versions that need it (see SignStoredPolicies), then reads
  // the latest policies from the store; an unparsable stored policy is an
  // error (it was validated when applied, so the store was tampered with).
  Status Load();

  // The checks Apply makes before storing anything (group name, then the
  // document), with the same errors; a dry run uses it to fail exactly as
  // the real apply would.
  static Result<Policy> Validate(std::string_view group, std::string_view yaml,
                                 std::string_view source_name);

  // Validates `yaml`, stores it as the group's next version with its
  // signature and notifies the watchers of the group and its descendants.
  // Nothing is stored when validation or signing fails. The stored, signed
  // document is `yaml` with the media ledger merged in (ledger_policy.h);
  // `yaml` itself is kept as the version's source.
  Result<PolicyBundle> Apply(std::string_view group, std::string_view yaml,
                             std::string_view source_name, std::string_view applied_by);

  // Runs `change` (writes to the media ledger) and, in the same
  // transaction, stores a new signed version for every group whose policy
  // the changed ledger alters, recording `applied_by` (e.g. "ledger.add by
  // web:alice"); then notifies the watchers. When `change` or any version
  // fails, nothing is stored. Returns the new versions.
  Result<std::vector<PolicyBundle>> ApplyLedgerChange(const std::function<Status()>& change,
                                                      std::string_view applied_by);
  // The same for a change of the exception requests (approved exceptions
  // are merged into the policies like the ledger; exception_policy.h).
  Result<std::vector<PolicyBundle>> ApplyExceptionChange(const std::function<Status()>& change,
                                                         std::string_view applied_by);
  // The groups that have a policy of their own, sorted.
  std::vector<std::string> PolicyGroups() const;

  // The policy in force for `group` (its own or inherited), if any.
  std::optional<ResolvedPolicy> Resolve(std::string_view group) const;
  // The parsed policy in force and its version (nullptr and 0 = none),
  // without copying the stored document: what compliance evaluation needs
  // for every terminal of a listing.
  struct Assigned {
    std::shared_ptr<const Policy> policy;
    uint64_t version = 0;
  };
  Assigned AssignedTo(std::string_view group) const;
  // Just its version (0 = none): what every state report's reply carries.
  uint64_t AssignedVersion(std::string_view group) const { return AssignedTo(group).version; }
  // The newest version issued to any group (0 = none). Versions are
  // numbered across all groups, so no agent can enforce a higher one.
  uint64_t LatestVersion() const;

  // `on_close` is called when the hub closes or the terminal's watches are
  // ended; a watcher added after the hub closed is closed at once.
  // `terminal_id` names the watching terminal (may be empty for watchers
  // that are no terminal's).
  WatchId AddWatcher(std::string group, std::string terminal_id, OnChange on_change,
                     OnClose on_close);
  void RemoveWatcher(WatchId id);
  // Ends every watch, so streams finish promptly when the collector stops.
  void CloseAll();
  // Ends the watches of one terminal with `why` (a revoked terminal's
  // streams must not outlive the revocation); returns how many were ended.
  // A pass over the watchers: revocations are rare.
  std::size_t CloseTerminal(std::string_view terminal_id, const Error& why);
  std::size_t WatcherCount() const;

 private:
  // At start, signs every stored version that is unsigned (written before
  // policy signing existed) or signed by another key (the key was rotated):
  // the store is the collector's own record of what admins applied, so the
  // current key vouches for it. A version that claims the current key but
  // does not verify was altered outside the collector: an error, the
  // collector does not start.
  Status SignStoredPolicies();
  std::optional<ResolvedPolicy> ResolveLocked(std::string_view group) const;
  // `source_yaml` with the sections the collector keeps merged in: the
  // media ledger, then the approved exceptions not ended now. Inside a
  // store transaction.
  Result<std::string> MergeCollectorSections(std::string_view source_yaml, std::string_view group,
                                             std::string_view source_name);
  // ApplyLedgerChange and ApplyExceptionChange; `what` names the change in
  // messages.
  Result<std::vector<PolicyBundle>> ApplyCollectorChange(const std::function<Status()>& change,
                                                         std::string_view what,
                                                         std::string_view applied_by);
  // Inside a store transaction: stores `yaml` (and `source_yaml` when it
  // differs) as the group's next version and signs it.
  Result<PolicyBundle> StoreSignedLocked(std::string_view group, std::string_view yaml,
                                         std::string_view source_yaml, std::string_view applied_by);
  // Tells the watchers of `group` and its descendants.
  void NotifyLocked(std::string_view group);
  // The entry in force for `group` and whether it is inherited; nullptr if none.
  const ResolvedPolicy* FindLocked(std::string_view group, bool* inherited) const;

  Store* store_;
  const Clock* clock_;
  const PolicySigningKey signing_key_;
  mutable std::mutex mu_;
  std::map<std::string, ResolvedPolicy, std::less<>> latest_;  // guarded by mu_
  struct Watcher {
    std::string group;
    std::string terminal_id;
    OnChange on_change;
    OnClose on_close;
    bool closed = false;
  };
  std::map<WatchId, Watcher> watchers_;  // guarded by mu_
  WatchId next_id_ = 1;                  // guarded by mu_
  bool closed_ = false;                  // guarded by mu_
};

}  // namespace mamori
