#include "server/collector/policy_hub.h"

#include "common/identity.h"
#include "common/logging.h"

namespace mamori {

PolicyHub::PolicyHub(Store* store, const Clock* clock) : store_(store), clock_(clock) {}

Status PolicyHub::Load() {
  auto latest = store_->LatestPolicies();
  if (!latest.ok()) return latest.error();
  std::map<std::string, ResolvedPolicy, std::less<>> loaded;
  for (auto& sp : *latest) {
    auto parsed =
        ParsePolicy(sp.yaml, "stored policy " + sp.group + " v" + std::to_string(sp.version));
    if (!parsed.ok()) return parsed.error();
    const std::string group = sp.group;
    loaded[group] = ResolvedPolicy{
        std::move(sp), std::make_shared<const Policy>(std::move(parsed).value()), false};
  }
  std::lock_guard lock(mu_);
  latest_ = std::move(loaded);
  return Status::Ok();
}

Result<StoredPolicy> PolicyHub::Apply(std::string_view group, std::string_view yaml,
                                      std::string_view source_name, std::string_view applied_by) {
  static const auto log = GetLogger("policy");
  if (!IsValidGroup(group)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid group '" + std::string(group) +
                         "': use lower-case segments of a-z, 0-9, _ and - separated by '/'");
  }
  auto parsed = ParsePolicy(yaml, source_name.empty() ? "policy" : source_name);
  if (!parsed.ok()) return parsed.error();

  // Storing and publishing happen under one lock so two concurrent applies
  // cannot publish versions out of order.
  std::lock_guard lock(mu_);
  auto stored = store_->PutPolicy(group, yaml, applied_by, clock_->NowMs());
  if (!stored.ok()) return stored.error();
  latest_[std::string(group)] =
      ResolvedPolicy{*stored, std::make_shared<const Policy>(std::move(parsed).value()), false};
  log->info("policy '{}' version {} applied to group {} by {}",
            latest_[std::string(group)].policy->name, stored->version, group, applied_by);
  for (auto& [id, w] : watchers_) {
    if (!GroupContains(group, w.group)) continue;
    if (auto r = ResolveLocked(w.group)) w.on_change(*r);
  }
  return stored;
}

std::optional<ResolvedPolicy> PolicyHub::Resolve(std::string_view group) const {
  std::lock_guard lock(mu_);
  return ResolveLocked(group);
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

PolicyHub::WatchId PolicyHub::AddWatcher(std::string group, OnChange on_change,
                                         std::function<void()> on_close) {
  std::lock_guard lock(mu_);
  const WatchId id = next_id_++;
  if (closed_) {
    on_close();
    return id;
  }
  watchers_.emplace(id, Watcher{std::move(group), std::move(on_change), std::move(on_close)});
  return id;
}

void PolicyHub::CloseAll() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (auto& [id, w] : watchers_) w.on_close();
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
