#include "server/compliance/compliance_index.h"

#include <algorithm>
#include <limits>
#include <mutex>

#include "common/crypto/identity.h"

namespace mamori {
namespace {

constexpr int kReporting = *CheckPosition(kCheckReporting);
constexpr int kPolicyCurrent = *CheckPosition(kCheckPolicyCurrent);
constexpr int kEnforcementActive = *CheckPosition(kCheckEnforcementActive);
constexpr int kNoUnapprovedStorage = *CheckPosition(kCheckNoUnapprovedStorage);
constexpr int kClockSkew = *CheckPosition(kCheckClockSkew);
constexpr int kNotRevoked = *CheckPosition(kCheckNotRevoked);

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string SearchText(std::string_view id, std::string_view hostname) {
  std::string out;
  out.reserve(id.size() + 1 + hostname.size());
  for (char c : id) out.push_back(LowerAscii(c));
  out.push_back('\n');
  for (char c : hostname) out.push_back(LowerAscii(c));
  return out;
}

CheckResult ResultOf(const TerminalCompliance& c, std::string_view name) {
  for (const ComplianceCheck& check : c.checks) {
    if (check.name == name) return check.result;
  }
  return CheckResult::kUnknown;
}

// The span around `now_ms` in which no registered medium of `policy`
// expires, so a storage verdict made at `now_ms` holds throughout: a medium
// counts as registered while the time is at most its expiry (rule_engine).
std::pair<int64_t, int64_t> StableSpan(const Policy* policy, int64_t now_ms) {
  int64_t from = std::numeric_limits<int64_t>::min();
  int64_t until = std::numeric_limits<int64_t>::max();
  if (policy == nullptr) return {from, until};
  for (const RegisteredMedium& m : policy->registered_media) {
    if (m.expires_ms == 0) continue;
    if (m.expires_ms >= now_ms) {
      until = std::min(until, m.expires_ms);
    } else {
      from = std::max(from, m.expires_ms + 1);
    }
  }
  return {from, until};
}

}  // namespace

ComplianceIndex::AssignedFn ComplianceIndex::AssignedBy(const PolicyHub* hub) {
  return [hub](std::string_view group) { return hub->AssignedTo(group); };
}

ComplianceIndex::ComplianceIndex(AssignedFn assigned, const Clock* clock, ComplianceConfig config,
                                 const TerminalStandings* standings)
    : assigned_(std::move(assigned)), clock_(clock), config_(config), standings_(standings) {}

void ComplianceIndex::MakeEntry(const TerminalState& state, int64_t now, Hot* hot,
                                Entry* entry) const {
  hot->last_report_ms = state.last_report_ms;
  hot->reporting_limit_ms = ReportingLimitMs(state, config_);
  hot->applied_version = state.applied_policy_version;
  if (standings_ != nullptr) hot->standing = standings_->StandingOf(state.terminal_id).standing;
  entry->terminal_id = state.terminal_id;
  entry->hostname = state.hostname;
  entry->search_text = SearchText(state.terminal_id, state.hostname);

  // The full evaluation, once per report: the parts that depend on the
  // snapshot alone are kept as they come out of it.
  const Assigned assigned = assigned_(state.group);
  const TerminalCompliance c =
      EvaluateCompliance(state, assigned.policy.get(), assigned.version, now, config_);
  hot->enforcement = ResultOf(c, kCheckEnforcementActive);
  hot->clock_skew = ResultOf(c, kCheckClockSkew);

  auto storage = std::make_shared<TerminalState>();
  storage->last_report_ms = state.last_report_ms;
  for (const Device& d : state.devices) {
    if (IsUsableStorage(d)) storage->devices.push_back(d);
  }
  hot->has_storage = !storage->devices.empty();
  if (hot->has_storage) {
    entry->storage = std::move(storage);
    const auto [from, until] = StableSpan(assigned.policy.get(), now);
    entry->storage_cached = true;
    entry->storage_policy = assigned.policy;
    entry->storage_result = ResultOf(c, kCheckNoUnapprovedStorage);
    entry->storage_valid_from_ms = from;
    entry->storage_valid_until_ms = until;
  }
}

uint32_t ComplianceIndex::InternGroup(const std::string& group) {
  auto it = group_ids_.find(group);
  if (it != group_ids_.end()) return it->second;
  const auto id = static_cast<uint32_t>(group_names_.size());
  group_names_.push_back(group);
  group_ids_.emplace(group, id);
  return id;
}

Status ComplianceIndex::Load(TerminalRepository* store, std::string_view group) {
  // Built aside and swapped in, so queries meanwhile see the old contents.
  ComplianceIndex fresh(assigned_, clock_, config_, standings_);
  const int64_t now = clock_->NowMs();
  Status s = store->ForEachTerminal(group, [&](TerminalState&& state) -> Status {
    Hot hot;
    Entry entry;
    MakeEntry(state, now, &hot, &entry);
    hot.group = fresh.InternGroup(state.group);
    // The store hands terminals over by id: slots come out in id order.
    const auto slot = static_cast<uint32_t>(fresh.hot_.size());
    fresh.slots_.emplace(state.terminal_id, slot);
    fresh.order_.push_back(slot);
    fresh.hot_.push_back(hot);
    fresh.cold_.push_back(std::move(entry));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  std::unique_lock lock(mu_);
  for (Entry& e : fresh.cold_) e.generation = next_generation_++;
  hot_ = std::move(fresh.hot_);
  cold_ = std::move(fresh.cold_);
  slots_ = std::move(fresh.slots_);
  order_ = std::move(fresh.order_);
  group_names_ = std::move(fresh.group_names_);
  group_ids_ = std::move(fresh.group_ids_);
  return Status::Ok();
}

void ComplianceIndex::OnReportStored(const TerminalState& state) {
  Hot hot;
  Entry entry;
  MakeEntry(state, clock_->NowMs(), &hot, &entry);
  std::unique_lock lock(mu_);
  hot.group = InternGroup(state.group);
  entry.generation = next_generation_++;
  if (auto it = slots_.find(state.terminal_id); it != slots_.end()) {
    hot_[it->second] = hot;
    cold_[it->second] = std::move(entry);
    return;
  }
  const auto slot = static_cast<uint32_t>(hot_.size());
  hot_.push_back(hot);
  cold_.push_back(std::move(entry));
  slots_.emplace(state.terminal_id, slot);
  // A new terminal: its place in id order (a few hundred kilobytes moved
  // at most, and only when a terminal reports for the first time).
  const auto at = std::lower_bound(
      order_.begin(), order_.end(), state.terminal_id,
      [this](uint32_t s, const std::string& id) { return cold_[s].terminal_id < id; });
  order_.insert(at, slot);
}

void ComplianceIndex::OnStandingChanged(std::string_view terminal_id, TerminalStanding standing) {
  std::unique_lock lock(mu_);
  if (auto it = slots_.find(std::string(terminal_id)); it != slots_.end()) {
    hot_[it->second].standing = standing;
  }
}

std::size_t ComplianceIndex::size() const {
  std::shared_lock lock(mu_);
  return hot_.size();
}

std::vector<ComplianceIndex::GroupState> ComplianceIndex::Scope(std::string_view within) const {
  std::vector<GroupState> groups(group_names_.size());
  for (std::size_t i = 0; i < groups.size(); ++i) {
    groups[i].in_scope = GroupContains(within, group_names_[i]);
  }
  return groups;
}

ComplianceIndex::Verdict ComplianceIndex::Judge(uint32_t slot, GroupState& group, int64_t now,
                                                std::vector<StorageVerdict>* refreshed) const {
  const Hot& h = hot_[slot];
  if (!group.resolved) {
    group.assigned = assigned_(group_names_[h.group]);
    group.resolved = true;
  }
  Verdict v;
  v.assigned_version = group.assigned.version;
  CheckResults results;
  results.fill(CheckResult::kUnknown);
  if (h.last_report_ms != 0) {
    results[kReporting] = ReportingVerdict(h.last_report_ms, h.reporting_limit_ms, now);
    results[kPolicyCurrent] = PolicyCurrentVerdict(h.applied_version, group.assigned.version);
    results[kEnforcementActive] = h.enforcement;
    results[kClockSkew] = h.clock_skew;
    if (!h.has_storage) {
      results[kNoUnapprovedStorage] = CheckResult::kPass;  // nothing usable to judge
    } else {
      const Entry& e = cold_[slot];
      if (e.storage_cached && e.storage_policy == group.assigned.policy &&
          now >= e.storage_valid_from_ms && now <= e.storage_valid_until_ms) {
        results[kNoUnapprovedStorage] = e.storage_result;
      } else {
        const Policy* policy = group.assigned.policy.get();
        const CheckResult r =
            CheckNoUnapprovedStorage(*e.storage, policy, group.assigned.version, now).result;
        results[kNoUnapprovedStorage] = r;
        if (refreshed != nullptr) {
          const auto [from, until] = StableSpan(policy, now);
          refreshed->push_back(
              StorageVerdict{slot, e.generation, group.assigned.policy, r, from, until});
        }
      }
    }
  }
  results[kNotRevoked] = NotRevokedVerdict(h.standing, h.last_report_ms != 0);
  v.status = Combine(results);
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i] == CheckResult::kFail) v.failing |= 1u << i;
  }
  return v;
}

void ComplianceIndex::StoreRefreshed(std::vector<StorageVerdict> refreshed) const {
  if (refreshed.empty()) return;
  std::unique_lock lock(mu_);
  for (StorageVerdict& r : refreshed) {
    // A newer snapshot replaced the one judged (or a reload replaced
    // everything): its own verdict stands.
    if (r.slot >= cold_.size() || cold_[r.slot].generation != r.generation) continue;
    const Entry& e = cold_[r.slot];
    e.storage_cached = true;
    e.storage_policy = std::move(r.policy);
    e.storage_result = r.result;
    e.storage_valid_from_ms = r.valid_from_ms;
    e.storage_valid_until_ms = r.valid_until_ms;
  }
}

TerminalPage ComplianceIndex::List(const TerminalFilter& filter) const {
  TerminalPage page;
  std::vector<StorageVerdict> refreshed;
  const int64_t now = clock_->NowMs();
  {
    std::shared_lock lock(mu_);
    std::vector<GroupState> groups = Scope(filter.group);
    for (const uint32_t slot : order_) {
      const Hot& h = hot_[slot];
      GroupState& group = groups[h.group];
      if (!group.in_scope) continue;
      if (filter.standing ? h.standing != *filter.standing
                          : h.standing == TerminalStanding::kRetired) {
        continue;
      }
      if (!filter.search.empty() &&
          cold_[slot].search_text.find(filter.search) == std::string::npos) {
        continue;
      }
      const Verdict v = Judge(slot, group, now, &refreshed);
      if (filter.status && v.status != *filter.status) continue;
      if (filter.failing_check && (v.failing & (1u << *filter.failing_check)) == 0) continue;
      if (page.total >= filter.offset && page.rows.size() < filter.limit) {
        const Entry& e = cold_[slot];
        TerminalRow& row = page.rows.emplace_back();
        row.terminal_id = e.terminal_id;
        row.group = group_names_[h.group];
        row.hostname = e.hostname;
        row.status = v.status;
        for (std::size_t i = 0; i < kCheckNames.size(); ++i) {
          if ((v.failing & (1u << i)) != 0) row.failing_checks.emplace_back(kCheckNames[i]);
        }
        row.last_report_ms = h.last_report_ms;
        row.applied_policy_version = h.applied_version;
        row.assigned_policy_version = v.assigned_version;
        row.standing = h.standing;
      }
      ++page.total;
    }
  }
  StoreRefreshed(std::move(refreshed));
  return page;
}

std::vector<GroupCounts> ComplianceIndex::Summaries(std::string_view within) const {
  std::vector<StorageVerdict> refreshed;
  std::map<std::string, GroupCounts, std::less<>> rows;
  const int64_t now = clock_->NowMs();
  {
    std::shared_lock lock(mu_);
    std::vector<GroupState> groups = Scope(within);
    std::vector<GroupCounts> own(groups.size());
    for (uint32_t slot = 0; slot < hot_.size(); ++slot) {
      const uint32_t g = hot_[slot].group;
      GroupState& group = groups[g];
      if (!group.in_scope || hot_[slot].standing == TerminalStanding::kRetired) continue;
      const Verdict v = Judge(slot, group, now, &refreshed);
      GroupCounts& c = own[g];
      ++c.terminals;
      switch (v.status) {
        case ComplianceStatus::kCompliant:
          ++c.compliant;
          break;
        case ComplianceStatus::kNonCompliant:
          ++c.non_compliant;
          break;
        case ComplianceStatus::kUnknown:
          ++c.unknown;
          break;
      }
      if ((v.failing & (1u << kReporting)) != 0) ++c.stale;
      if (hot_[slot].standing == TerminalStanding::kRevoked) ++c.revoked;
    }
    // Each group's own counts go to it and to every ancestor up to `within`
    // (up to "" for the whole deployment).
    for (std::size_t i = 0; i < own.size(); ++i) {
      if (own[i].terminals == 0) continue;
      std::string_view g = group_names_[i];
      while (GroupContains(within, g)) {
        auto it = rows.find(g);
        if (it == rows.end()) {
          it = rows.emplace(std::string(g), GroupCounts{}).first;
          it->second.group = std::string(g);
        }
        GroupCounts& row = it->second;
        row.terminals += own[i].terminals;
        row.compliant += own[i].compliant;
        row.non_compliant += own[i].non_compliant;
        row.unknown += own[i].unknown;
        row.stale += own[i].stale;
        row.revoked += own[i].revoked;
        if (g.empty()) break;
        const std::size_t slash = g.rfind('/');
        g = slash == std::string_view::npos ? std::string_view() : g.substr(0, slash);
      }
    }
  }
  StoreRefreshed(std::move(refreshed));
  std::vector<GroupCounts> out;
  out.reserve(rows.size());
  for (auto& [name, row] : rows) out.push_back(std::move(row));
  return out;
}

}  // namespace mamori
