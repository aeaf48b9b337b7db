#include "server/policy/policy_hub.h"

#include <algorithm>

#include "common/base/logging.h"
#include "common/crypto/identity.h"
#include "common/policy/policy_parser.h"
#include "server/policy/exception_policy.h"
#include "server/policy/ledger_policy.h"

namespace mamori {

PolicyHub::PolicyHub(Store* store, const Clock* clock, PolicySigningKey signing_key)
    : store_(store), clock_(clock), signing_key_(std::move(signing_key)) {}

Status PolicyHub::SignStoredPolicies() {
  static const auto log = GetLogger("policy");
  const PolicyPublicKey& key = signing_key_.public_key();
  std::size_t unsigned_count = 0;
  std::size_t rotated_count = 0;
  Status st = store_->WithTransaction([&]() -> Status {
    auto latest = store_->LatestPolicies();
    if (!latest.ok()) return latest.error();
    for (const PolicyBundle& group_latest : *latest) {
      auto history = store_->PolicyHistory(group_latest.group);
      if (!history.ok()) return history.error();
      for (const PolicyBundle& sp : *history) {
        if (sp.key_id == key.key_id()) {
          Status v = key.Verify(sp);
          if (!v.ok()) {
            return MakeError(ErrorCode::kFailedPrecondition,
                             "stored policy of group " + sp.group + " version " +
                                 std::to_string(sp.version) + ": " + v.error().message +
                                 "; the database was changed outside the collector");
          }
          continue;
        }
        ++(sp.key_id.empty() ? unsigned_count : rotated_count);
        auto sig = signing_key_.Sign(sp);
        if (!sig.ok()) return sig.error();
        if (Status s =
                store_->SetPolicySignature(sp.group, sp.version, sig->signature, sig->key_id);
            !s.ok()) {
          return s;
        }
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (unsigned_count > 0) {
    log->info("signed {} stored policy version(s) written before policy signing with key {}",
              unsigned_count, key.key_id());
  }
  if (rotated_count > 0) {
    log->warn(
        "re-signed {} stored policy version(s) made with another key: the policy key is now {}; "
        "agents accept these bundles only once they pin its public key",
        rotated_count, key.key_id());
  }
  return Status::Ok();
}

Status PolicyHub::Load() {
  if (Status s = SignStoredPolicies(); !s.ok()) return s;
  auto latest = store_->LatestPolicies();
  if (!latest.ok()) return latest.error();
  std::map<std::string, ResolvedPolicy, std::less<>> loaded;
  for (auto& sp : *latest) {
    auto parsed = ParsePolicy(sp.policy_yaml,
                              "stored policy " + sp.group + " v" + std::to_string(sp.version));
    if (!parsed.ok()) return parsed.error();
    const std::string group = sp.group;
    loaded[group] = ResolvedPolicy{
        std::move(sp), std::make_shared<const Policy>(std::move(parsed).value()), false};
  }
  std::lock_guard lock(mu_);
  latest_ = std::move(loaded);
  return Status::Ok();
}

Result<Policy> PolicyHub::Validate(std::string_view group, std::string_view yaml,
                                   std::string_view source_name) {
  if (!IsValidGroup(group)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid group '" + std::string(group) +
                         "': use lower-case segments of a-z, 0-9, _ and - separated by '/'");
  }
  return ParsePolicy(yaml, source_name.empty() ? "policy" : source_name);
}

Result<PolicyBundle> PolicyHub::StoreSignedLocked(std::string_view group, std::string_view yaml,
                                                  std::string_view source_yaml,
                                                  std::string_view applied_by) {
  auto put = store_->PutPolicy(group, yaml, applied_by, clock_->NowMs());
  if (!put.ok()) return put.error();
  auto sig = signing_key_.Sign(*put);
  if (!sig.ok()) return sig.error();
  if (Status s = store_->SetPolicySignature(put->group, put->version, sig->signature, sig->key_id);
      !s.ok()) {
    return s.error();
  }
  if (source_yaml != yaml) {
    if (Status s = store_->SetPolicySource(put->group, put->version, source_yaml); !s.ok()) {
      return s.error();
    }
  }
  put->signature = std::move(sig->signature);
  put->key_id = std::move(sig->key_id);
  return put;
}

void PolicyHub::NotifyLocked(std::string_view group) {
  for (auto& [id, w] : watchers_) {
    if (!GroupContains(group, w.group)) continue;
    if (auto r = ResolveLocked(w.group)) w.on_change(*r);
  }
}

Result<PolicyBundle> PolicyHub::Apply(std::string_view group, std::string_view yaml,
                                      std::string_view source_name, std::string_view applied_by) {
  static const auto log = GetLogger("policy");
  auto parsed = Validate(group, yaml, source_name);
  if (!parsed.ok()) return parsed.error();

  // Storing and publishing happen under one lock so two concurrent applies
  // cannot publish versions out of order.
  std::lock_guard lock(mu_);
  // Stored and signed in one transaction: no unsigned version is ever
  // visible, and a signing failure stores nothing. The ledger is read in
  // the same transaction, so a concurrent ledger change (which takes this
  // lock too) is either merged here or re-merges this version.
  std::optional<PolicyBundle> stored;
  std::shared_ptr<const Policy> policy;
  Status st = store_->WithTransaction([&]() -> Status {
    auto merged = MergeCollectorSections(yaml, group, source_name);
    if (!merged.ok()) return merged.error();
    if (*merged == yaml) {
      policy = std::make_shared<const Policy>(std::move(parsed).value());
    } else {
      auto reparsed = ParsePolicy(*merged, source_name);
      if (!reparsed.ok()) return reparsed.error();
      policy = std::make_shared<const Policy>(std::move(reparsed).value());
    }
    auto put = StoreSignedLocked(group, *merged, yaml, applied_by);
    if (!put.ok()) return put.error();
    stored = std::move(*put);
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  latest_[std::string(group)] = ResolvedPolicy{*stored, policy, false};
  log->info("policy '{}' version {} applied to group {} by {}, signed with key {}", policy->name,
            stored->version, group, applied_by, stored->key_id);
  NotifyLocked(group);
  return *stored;
}

Result<std::string> PolicyHub::MergeCollectorSections(std::string_view source_yaml,
                                                      std::string_view group,
                                                      std::string_view source_name) {
  auto ledger = store_->ListLedger(/*include_retired=*/true);
  if (!ledger.ok()) return ledger.error();
  auto with_media = MergeLedgerIntoPolicy(source_yaml, group, *ledger, source_name);
  if (!with_media.ok()) return with_media.error();
  auto approved = store_->ApprovedExceptions(clock_->NowMs());
  if (!approved.ok()) return approved.error();
  return MergeExceptionsIntoPolicy(*with_media, group, *approved, source_name);
}

Result<std::vector<PolicyBundle>> PolicyHub::ApplyLedgerChange(
    const std::function<Status()>& change, std::string_view applied_by) {
  return ApplyCollectorChange(change, "ledger", applied_by);
}

Result<std::vector<PolicyBundle>> PolicyHub::ApplyExceptionChange(
    const std::function<Status()>& change, std::string_view applied_by) {
  return ApplyCollectorChange(change, "exception", applied_by);
}

Result<std::vector<PolicyBundle>> PolicyHub::ApplyCollectorChange(
    const std::function<Status()>& change, std::string_view what, std::string_view applied_by) {
  static const auto log = GetLogger("policy");
  std::lock_guard lock(mu_);
  std::vector<ResolvedPolicy> updated;
  Status st = store_->WithTransaction([&]() -> Status {
    if (Status s = change(); !s.ok()) return s;
    for (const auto& [group, current] : latest_) {
      auto source = store_->PolicySource(group, current.stored.version);
      if (!source.ok()) return source.error();
      const std::string name = "policy of " + group + " v" + std::to_string(current.stored.version);
      auto merged = MergeCollectorSections(*source, group, name);
      if (!merged.ok()) {
        return MakeError(merged.error().code, "the " + std::string(what) +
                                                  " change cannot be merged into the policy of "
                                                  "group " +
                                                  group + ": " + merged.error().message);
      }
      if (*merged == current.stored.policy_yaml) continue;
      auto parsed = ParsePolicy(*merged, name);
      if (!parsed.ok()) return parsed.error();
      auto put = StoreSignedLocked(group, *merged, *source, applied_by);
      if (!put.ok()) return put.error();
      updated.push_back(ResolvedPolicy{
          std::move(*put), std::make_shared<const Policy>(std::move(parsed).value()), false});
    }
    return Status::Ok();
  });
  if (!st.ok()) return st.error();
  std::vector<PolicyBundle> out;
  for (ResolvedPolicy& r : updated) {
    const std::string group = r.stored.group;
    log->info("policy of group {} version {} stored for {}: registered media now {}, exceptions {}",
              group, r.stored.version, applied_by, r.policy->registered_media.size(),
              r.policy->exceptions.size());
    out.push_back(r.stored);
    latest_[group] = std::move(r);
  }
  // Once per watcher, even when its group's policy and an ancestor's changed.
  for (auto& [id, w] : watchers_) {
    const bool affected = std::any_of(out.begin(), out.end(), [&](const PolicyBundle& p) {
      return GroupContains(p.group, w.group);
    });
    if (!affected) continue;
    if (auto r = ResolveLocked(w.group)) w.on_change(*r);
  }
  return out;
}

std::vector<std::string> PolicyHub::PolicyGroups() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [group, r] : latest_) out.push_back(group);
  return out;
}

std::optional<ResolvedPolicy> PolicyHub::Resolve(std::string_view group) const {
  std::lock_guard lock(mu_);
  return ResolveLocked(group);
}

uint64_t PolicyHub::LatestVersion() const {
  std::lock_guard lock(mu_);
  uint64_t latest = 0;
  for (const auto& [group, r] : latest_) latest = std::max(latest, r.stored.version);
  return latest;
}

PolicyHub::Assigned PolicyHub::AssignedTo(std::string_view group) const {
  std::lock_guard lock(mu_);
  bool inherited = false;
  const ResolvedPolicy* r = FindLocked(group, &inherited);
  if (r == nullptr) return {};
  return {r->policy, r->stored.version};
}

std::optional<ResolvedPolicy> PolicyHub::ResolveLocked(std::string_view group) const {
  bool inherited = false;
  const ResolvedPolicy* found = FindLocked(group, &inherited);
  if (found == nullptr) return std::nullopt;
  ResolvedPolicy r = *found;
  r.inherited = inherited;
  return r;
}

const ResolvedPolicy* PolicyHub::FindLocked(std::string_view group, bool* inherited) const {
  std::string_view g = group;
  *inherited = false;
  while (true) {
    if (auto it = latest_.find(g); it != latest_.end()) return &it->second;
    if (g.empty()) return nullptr;
    const auto slash = g.rfind('/');
    g = slash == std::string_view::npos ? std::string_view() : g.substr(0, slash);
    *inherited = true;
  }
}

PolicyHub::WatchId PolicyHub::AddWatcher(std::string group, std::string terminal_id,
                                         OnChange on_change, OnClose on_close) {
  std::lock_guard lock(mu_);
  const WatchId id = next_id_++;
  if (closed_) {
    on_close(MakeError(ErrorCode::kUnavailable, "collector is shutting down"));
    return id;
  }
  watchers_.emplace(id, Watcher{std::move(group), std::move(terminal_id), std::move(on_change),
                                std::move(on_close)});
  return id;
}

void PolicyHub::CloseAll() {
  std::lock_guard lock(mu_);
  closed_ = true;
  const Error why = MakeError(ErrorCode::kUnavailable, "collector is shutting down");
  for (auto& [id, w] : watchers_) {
    if (w.closed) continue;
    w.closed = true;
    w.on_close(why);
  }
}

std::size_t PolicyHub::CloseTerminal(std::string_view terminal_id, const Error& why) {
  std::lock_guard lock(mu_);
  std::size_t closed = 0;
  for (auto& [id, w] : watchers_) {
    if (w.closed || w.terminal_id != terminal_id) continue;
    w.closed = true;
    w.on_close(why);
    ++closed;
  }
  return closed;
}

void PolicyHub::RemoveWatcher(WatchId id) {
  std::lock_guard lock(mu_);
  watchers_.erase(id);
}

std::size_t PolicyHub::WatcherCount() const {
  std::lock_guard lock(mu_);
  return watchers_.size();
}

}  // namespace mamori
