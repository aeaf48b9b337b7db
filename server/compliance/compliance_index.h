#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/device/terminal_state.h"
#include "common/policy/policy.h"
#include "server/compliance/compliance.h"
#include "server/compliance/compliance_engine.h"
#include "server/compliance/terminal_standing.h"
#include "server/ingest/report_observer.h"
#include "server/policy/policy_hub.h"
#include "server/store/terminal_repository.h"

namespace mamori {

// What a terminal listing asks for. Every condition set must hold.
struct TerminalFilter {
  std::string group;                       // the group and its descendants; "" = all
  std::optional<ComplianceStatus> status;  // nullopt = any
  std::optional<int> failing_check;        // position in kCheckNames; nullopt = any
  // Substring of the terminal id or host name, lower case: ASCII letters
  // match either case. "" = any.
  std::string search;
  // Only terminals of this standing; nullopt = every terminal not retired.
  std::optional<TerminalStanding> standing;
  uint32_t offset = 0;
  uint32_t limit = 1000;
};

// One terminal of a listing, judged at the time of the query.
struct TerminalRow {
  std::string terminal_id;
  std::string group;
  std::string hostname;
  ComplianceStatus status = ComplianceStatus::kUnknown;
  std::vector<std::string> failing_checks;  // in kCheckNames order
  int64_t last_report_ms = 0;
  uint64_t applied_policy_version = 0;
  uint64_t assigned_policy_version = 0;
  TerminalStanding standing = TerminalStanding::kActive;
};

struct TerminalPage {
  std::vector<TerminalRow> rows;  // by terminal id
  uint32_t total = 0;             // terminals matching the filter, paging ignored
};

// Counts of one group, its descendants included.
struct GroupCounts {
  std::string group;
  uint32_t terminals = 0;
  uint32_t compliant = 0;
  uint32_t non_compliant = 0;
  uint32_t unknown = 0;
  uint32_t stale = 0;    // reporting check failing (also counted as non_compliant)
  uint32_t revoked = 0;  // identity revoked (also counted as non_compliant)
};

// Every terminal's compliance inputs, in memory, so that listings and group
// counts of a whole deployment cost a pass over compact entries instead of
// loading every terminal and its devices from the store.
//
// What a verdict depends on, and how each part stays current:
// - enforcement_active and clock_skew depend on the snapshot alone: judged
//   when a report is stored.
// - reporting depends on the time: the entry keeps the last report time and
//   the allowed age, compared with the clock at query time.
// - policy_current depends on the policy assigned to the group now: the
//   applied version is compared with the assigned one at query time.
// - no_unapproved_storage depends on the assigned policy and, through the
//   expiry dates of registered media, on the time. Only the usable storage
//   devices are kept (usually none); the verdict is cached with the policy
//   it was made under and the time span in which no medium of that policy
//   expires, and made again when either no longer holds.
// The verdicts are the ones EvaluateCompliance gives for the stored
// snapshot at the same time.
//
// Thread-safe: queries share a lock, a stored report takes it briefly.
// - not_revoked depends on the deny list: the standing is kept in the entry,
//   read when a report is stored and changed by OnStandingChanged. Retired
//   terminals are left out of listings (unless asked for) and counts.
class ComplianceIndex final : public ReportObserver, public StandingObserver {
 public:
  using Assigned = PolicyHub::Assigned;
  // The policy in force for a group and its version: PolicyHub::AssignedTo.
  using AssignedFn = std::function<Assigned(std::string_view group)>;
  // AssignedTo of `hub`, which must outlive the index.
  static AssignedFn AssignedBy(const PolicyHub* hub);

  // `standings` (may be null: every terminal active) must outlive the index.
  ComplianceIndex(AssignedFn assigned, const Clock* clock, ComplianceConfig config,
                  const TerminalStandings* standings = nullptr);

  // Replaces the contents with the terminals of `group` ("" = all) as the
  // store has them.
  Status Load(TerminalRepository* store, std::string_view group = "");
  // Adds or replaces the terminal's entry.
  void OnReportStored(const TerminalState& state) override;
  // Changes the terminal's standing (a terminal that never reported has
  // no entry: nothing to change).
  void OnStandingChanged(std::string_view terminal_id, TerminalStanding standing) override;

  TerminalPage List(const TerminalFilter& filter) const;
  // One row per group that has terminals and per ancestor group, plus "" for
  // the whole deployment, sorted by name; with `within`, only that group
  // and its descendants (as AggregateByGroup).
  std::vector<GroupCounts> Summaries(std::string_view within = "") const;
  std::size_t size() const;

 private:
  // What every query reads for every terminal, packed so that a pass over a
  // deployment stays within a few megabytes.
  struct Hot {
    int64_t last_report_ms = 0;  // 0 = never reported: every check unknown
    int64_t reporting_limit_ms = 0;
    uint64_t applied_version = 0;
    uint32_t group = 0;  // index into group_names_
    CheckResult enforcement = CheckResult::kUnknown;
    CheckResult clock_skew = CheckResult::kUnknown;
    bool has_storage = false;
    TerminalStanding standing = TerminalStanding::kActive;
  };
  // The rest: read for the rows of a page, for a search, and for the
  // terminals with usable storage.
  struct Entry {
    std::string terminal_id;
    std::string hostname;
    // Lower-case "id\nhostname": what a search looks in.
    std::string search_text;
    // The usable removable storage of the snapshot (with its receive time),
    // all that no_unapproved_storage judges; null when there is none.
    std::shared_ptr<const TerminalState> storage;
    uint64_t generation = 0;  // changes with every stored snapshot
    // no_unapproved_storage as judged under `storage_policy`, valid while
    // the time is within [storage_valid_from_ms, storage_valid_until_ms].
    // A cache: rewritten under the exclusive lock by queries.
    mutable bool storage_cached = false;
    mutable std::shared_ptr<const Policy> storage_policy;
    mutable CheckResult storage_result = CheckResult::kUnknown;
    mutable int64_t storage_valid_from_ms = 0;
    mutable int64_t storage_valid_until_ms = 0;
  };
  // A group as one query sees it.
  struct GroupState {
    bool in_scope = false;
    bool resolved = false;
    Assigned assigned;
  };
  // A no_unapproved_storage verdict made by a query, to be cached.
  struct StorageVerdict {
    uint32_t slot = 0;
    uint64_t generation = 0;
    std::shared_ptr<const Policy> policy;
    CheckResult result = CheckResult::kUnknown;
    int64_t valid_from_ms = 0;
    int64_t valid_until_ms = 0;
  };
  struct Verdict {
    ComplianceStatus status = ComplianceStatus::kUnknown;
    uint32_t failing = 0;  // bit i: check kCheckNames[i] fails
    uint64_t assigned_version = 0;
  };

  void MakeEntry(const TerminalState& state, int64_t now, Hot* hot, Entry* entry) const;
  // The following require mu_ (either mode).
  std::vector<GroupState> Scope(std::string_view within) const;
  Verdict Judge(uint32_t slot, GroupState& group, int64_t now,
                std::vector<StorageVerdict>* refreshed) const;
  void StoreRefreshed(std::vector<StorageVerdict> refreshed) const;
  uint32_t InternGroup(const std::string& group);  // requires mu_ held exclusively

  const AssignedFn assigned_;
  const Clock* clock_;
  const ComplianceConfig config_;
  const TerminalStandings* standings_;

  mutable std::shared_mutex mu_;
  // Terminals by slot; a terminal keeps its slot for the index's lifetime.
  std::vector<Hot> hot_;                                 // guarded by mu_
  std::vector<Entry> cold_;                              // guarded by mu_
  std::unordered_map<std::string, uint32_t> slots_;      // guarded by mu_; id -> slot
  std::vector<uint32_t> order_;                          // guarded by mu_; slots by id
  std::vector<std::string> group_names_;                 // guarded by mu_
  std::unordered_map<std::string, uint32_t> group_ids_;  // guarded by mu_
  uint64_t next_generation_ = 1;                         // guarded by mu_
};

}  // namespace mamori
