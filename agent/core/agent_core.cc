#include "agent/core/agent_core.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/base/jst_time.h"
#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "common/policy/policy_parser.h"
#include "common/policy/rule_engine.h"

namespace mamori {
namespace {

// A device string longer than this is cut before it is recorded or sent.
// Real USB strings are at most 126 UTF-16 characters; a hostile or broken
// device (or backend) must not make one event too large to journal, which
// would lose the very event that reports it. The raw bytes are kept up to
// the bound; the collector sanitizes them.
constexpr std::size_t kMaxRecordedStringBytes = 4096;

void BoundDeviceStrings(DeviceIdentity& id) {
  for (std::string* s :
       {&id.serial, &id.manufacturer, &id.product, &id.bus_path, &id.descriptor_hash}) {
    if (s->size() > kMaxRecordedStringBytes) s->resize(kMaxRecordedStringBytes);
  }
  if (id.interface_classes.size() > 64) id.interface_classes.resize(64);
}

// Rejection messages list every problem of a policy; the event keeps the
// first few kilobytes, enough to act on.
constexpr std::size_t kMaxDetailBytes = 4096;
constexpr std::size_t kMaxUserBytes = 256;

EventKind KindFor(Action action) {
  switch (action) {
    case Action::kBlock:
      return EventKind::kDeviceBlocked;
    case Action::kReadOnly:
      return EventKind::kDeviceReadOnly;
    case Action::kAllow:
    case Action::kUnspecified:
      break;
  }
  return EventKind::kDeviceAllowed;
}

Severity SeverityFor(Action action) {
  return action == Action::kBlock ? Severity::kAlert : Severity::kInfo;
}

bool SameIdentity(const DeviceIdentity& a, const DeviceIdentity& b) {
  return a.vendor_id == b.vendor_id && a.product_id == b.product_id && a.serial == b.serial &&
         a.manufacturer == b.manufacturer && a.product == b.product && a.bus_path == b.bus_path &&
         a.device_class == b.device_class && a.interface_classes == b.interface_classes &&
         a.descriptor_hash == b.descriptor_hash;
}

// The parts of a decision that policy produces; a change in any of them
// must be applied again and reported.
bool SameVerdict(const Decision& a, const Decision& b) {
  return a.action == b.action && a.matched_rule == b.matched_rule &&
         a.allowed_interface_classes == b.allowed_interface_classes;
}

// "hid, other".
std::string ClassList(const std::vector<DeviceClass>& classes) {
  std::string out;
  for (DeviceClass c : classes) {
    if (!out.empty()) out += ", ";
    out += DeviceClassName(c);
  }
  return out;
}

// Fields that travel as proto `string` must be valid UTF-8 or the whole
// report fails to parse at the collector; a hostile device must not be able
// to silence a terminal that way. Identity strings travel as bytes and are
// left raw for the collector to sanitize.
Device ForReport(const Device& d) {
  Device out = d;
  out.device_id = SanitizeDeviceString(d.device_id);
  out.identity.bus_path = SanitizeDeviceString(d.identity.bus_path);
  out.identity.descriptor_hash = SanitizeDeviceString(d.identity.descriptor_hash);
  out.decision.enforcement_error =
      SanitizeDeviceString(d.decision.enforcement_error, kMaxDetailBytes);
  return out;
}

// Local exceptions come from unlock codes: a handful at a time. The bound
// keeps a misbehaving caller from growing the store without end.
constexpr std::size_t kMaxLocalExceptions = 1000;
constexpr std::size_t kMaxExceptionIdChars = 64;
constexpr std::size_t kMaxExceptionSerialBytes = 256;
constexpr std::size_t kMaxExceptionReasonBytes = 512;
constexpr int64_t kMaxExceptionWindowMs = int64_t{31} * 86'400'000;
// The worker wakes at least this often while an exception is pending, so a
// wall clock set forward or back is noticed without waiting for a device.
constexpr int64_t kMaxTimerWaitMs = 60'000;
// A skew that moved less than this is not worth a write of the store...
constexpr int64_t kSkewSaveDeltaMs = 1000;
// ...unless the stored measurement is older than this.
constexpr int64_t kSkewSaveAgeMs = 3'600'000;

bool IsExceptionIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool SameException(const DeviceException& a, const DeviceException& b) {
  return a.id == b.id && a.terminal_id == b.terminal_id && a.vendor_id == b.vendor_id &&
         a.product_id == b.product_id && a.serial == b.serial &&
         a.not_before_ms == b.not_before_ms && a.not_after_ms == b.not_after_ms &&
         a.reason == b.reason;
}

// "EX-12 (0781:5581 serial '4C53...')".
std::string DescribeException(const DeviceException& e) {
  DeviceIdentity id;
  id.vendor_id = e.vendor_id;
  id.product_id = e.product_id;
  return "exception " + e.id + " (" + id.VidPid() + " serial '" +
         SanitizeDeviceString(e.serial, 64) + "')";
}

// The device an exception names, for its events when it is not plugged in.
Device ExceptionDevice(const DeviceException& e) {
  Device d;
  d.identity.vendor_id = e.vendor_id;
  d.identity.product_id = e.product_id;
  d.identity.serial = e.serial;
  d.decision.action = Action::kAllow;
  d.decision.matched_rule = std::string(kExceptionRulePrefix) + e.id;
  return d;
}

std::string PolicyLabel(uint64_t version, std::string_view group) {
  if (version == 0) return "local or built-in policy";
  std::string s = "policy version " + std::to_string(version);
  if (!group.empty()) s += " of group " + std::string(group);
  return s;
}

}  // namespace

AgentCore::AgentCore(DeviceBackend& backend, EventOutbox& outbox, const Clock& clock,
                     const PolicyVerifier& verifier, PolicyCache& cache, AgentCoreOptions options,
                     std::shared_ptr<spdlog::logger> logger)
    : backend_(backend),
      outbox_(outbox),
      clock_(clock),
      verifier_(verifier),
      cache_(cache),
      options_(std::move(options)),
      log_(logger ? std::move(logger) : GetLogger("agent-core")),
      policy_(options_.local_policy ? *options_.local_policy : BuiltinDefaultPolicy()) {}

AgentCore::~AgentCore() { Stop(); }

void AgentCore::SetChangeListener(std::function<void()> listener) {
  listener_ = std::move(listener);
}

void AgentCore::SetPolicyListener(std::function<void(const Policy&)> listener) {
  policy_listener_ = std::move(listener);
}

std::string AgentCore::LoadCachedPolicyLocked(std::vector<Event>& events) {
  auto bootstrap = [&] {
    std::lock_guard lock(mu_);
    return options_.local_policy
               ? "local policy '" + policy_.name + "' from " + options_.local_policy_source
               : std::string("built-in default policy");
  };
  // Fail closed: a cache that cannot be trusted means the built-in default,
  // not the bootstrap policy, until the collector sends a valid bundle.
  auto reject = [&](const std::string& why) {
    const std::string where = "policy cache " + cache_.Describe();
    log_->error("{} rejected: {}; enforcing the built-in default policy", where, why);
    events.push_back(MakeEvent(
        EventKind::kPolicyRejected, Severity::kAlert,
        SanitizeDeviceString(where + " rejected (tampered with?): " + why +
                                 "; enforcing the built-in default policy until the collector "
                                 "sends a valid one",
                             kMaxDetailBytes)));
    std::lock_guard lock(mu_);
    policy_ = BuiltinDefaultPolicy();
    policy_version_ = 0;
    policy_group_.clear();
    return std::string("built-in default policy (policy cache rejected)");
  };

  Result<uint64_t> highest = cache_.HighestAccepted();
  if (!highest.ok()) return reject(highest.error().message);
  highest_accepted_ = *highest;
  Result<std::optional<PolicyBundle>> cached = cache_.Load();
  if (!cached.ok()) return reject(cached.error().message);
  if (!cached->has_value()) {
    if (highest_accepted_ > 0) {
      return reject("missing, but version " + std::to_string(highest_accepted_) +
                    " was accepted before");
    }
    return bootstrap();
  }
  const PolicyBundle& b = **cached;
  const std::string label = PolicyLabel(b.version, b.group);
  if (Status s = verifier_.Verify(b); !s.ok()) return reject(label + ": " + s.error().message);
  if (b.version == 0) return reject("version 0 is not a policy");
  if (b.version < highest_accepted_) {
    return reject(label + " is older than version " + std::to_string(highest_accepted_) +
                  " accepted before (rollback)");
  }
  Result<Policy> parsed = ParsePolicy(b.policy_yaml, "cached policy v" + std::to_string(b.version));
  if (!parsed.ok()) return reject(label + ": " + parsed.error().message);
  highest_accepted_ = std::max(highest_accepted_, b.version);
  log_->info("enforcing cached {} until the collector is reached", label);
  std::lock_guard lock(mu_);
  policy_ = std::move(*parsed);
  policy_version_ = b.version;
  policy_group_ = b.group;
  return "cached " + label + " ('" + policy_.name + "')";
}

Status AgentCore::Start() {
  std::string policy_desc;
  std::vector<Event> policy_events;
  {
    std::lock_guard serial(reconcile_mu_);
    policy_desc = LoadCachedPolicyLocked(policy_events);
    LoadExceptionStateLocked(policy_events);
    if (policy_listener_) {
      Policy in_force;
      {
        std::lock_guard lock(mu_);
        in_force = policy_;
      }
      policy_listener_(in_force);
    }
  }
  const bool audit = options_.mode == EnforcementMode::kAuditOnly;
  std::vector<Event> start_events{MakeEvent(
      EventKind::kAgentStarted, Severity::kInfo,
      "mamori-agent " + options_.agent_version + ", " + std::string(backend_.Name()) +
          " backend, " + (audit ? "audit-only mode" : "enforce mode") + ", " + policy_desc)};
  for (Event& e : policy_events) start_events.push_back(std::move(e));
  Record(std::move(start_events));

  // Watch before the first enumeration so a device plugged in between the
  // two is not missed.
  Status started = backend_.Start([this] { OnBackendChange(); });
  {
    std::lock_guard lock(mu_);
    backend_running_ = started.ok();
    backend_error_ = started.ok() ? "" : started.error().message;
  }
  if (!started.ok()) return started;

  {
    std::lock_guard lock(worker_mu_);
    worker_stop_ = false;
  }
  worker_ = std::thread([this] { WorkerLoop(); });
  Reconcile();
  return Status::Ok();
}

void AgentCore::Stop() {
  bool was_running = false;
  {
    std::lock_guard lock(mu_);
    was_running = std::exchange(backend_running_, false);
  }
  if (was_running) backend_.Stop();
  if (worker_.joinable()) {
    {
      std::lock_guard lock(worker_mu_);
      worker_stop_ = true;
    }
    worker_cv_.notify_one();
    worker_.join();
  }
}

void AgentCore::OnBackendChange() {
  // Runs on the backend's thread, which must not block: hand over to the
  // worker.
  {
    std::lock_guard lock(worker_mu_);
    devices_dirty_ = true;
  }
  worker_cv_.notify_one();
}

void AgentCore::NotifyTimersChanged() {
  {
    std::lock_guard lock(worker_mu_);
    timers_changed_ = true;
  }
  worker_cv_.notify_one();
}

void AgentCore::WorkerLoop() {
  for (;;) {
    // An exception's window opens or closes with no device event: the worker
    // wakes for it by itself, so a window ends on time with the collector
    // out of reach.
    const std::optional<int64_t> boundary = NextExceptionBoundaryMs();
    {
      std::unique_lock lock(worker_mu_);
      const auto ready = [this] { return devices_dirty_ || timers_changed_ || worker_stop_; };
      if (boundary) {
        const int64_t delay = std::clamp<int64_t>(*boundary - clock_.NowMs(), 0, kMaxTimerWaitMs);
        worker_cv_.wait_for(lock, std::chrono::milliseconds(delay), ready);
      } else {
        worker_cv_.wait(lock, ready);
      }
      if (worker_stop_) return;
      timers_changed_ = false;
      const bool due = boundary && clock_.NowMs() >= *boundary;
      if (!devices_dirty_ && !due) continue;  // woken early: look again
      devices_dirty_ = false;
    }
    try {
      Reconcile();
    } catch (const std::exception& e) {
      // A bug in evaluation must not end device handling for good.
      log_->critical("reconciling devices failed: {}", e.what());
    }
  }
}

void AgentCore::Reconcile() {
  std::lock_guard serial(reconcile_mu_);
  ReconcileLocked(nullptr, {});
}

void AgentCore::ReconcileLocked(const PolicyChange* change, std::vector<Event> events) {
  if (change && policy_listener_) policy_listener_(change->policy);
  std::vector<ObservedDevice> observed = backend_.Enumerate();

  Policy policy;
  std::map<std::string, Device> previous;
  ExceptionView view;
  {
    std::lock_guard lock(mu_);
    policy = change ? change->policy : policy_;
    previous = devices_;
    view = ViewExceptions(policy);
  }
  const int64_t now = clock_.NowMs();

  const std::size_t leading_events = events.size();
  std::map<std::string, Device> current;
  for (ObservedDevice& ob : observed) {
    BoundDeviceStrings(ob.identity);
    std::optional<Device> prev;
    if (auto it = previous.find(ob.device_id); it != previous.end()) {
      const Seen& seen = seen_[ob.device_id];
      if (seen.instance != ob.instance) {
        // Unplugged and plugged in again between two looks (the agent was
        // busy, stopped or lost uevents): another device, even if it
        // describes itself exactly as the one before. Its decision must be
        // carried out on it, not assumed from the old one.
        log_->info("device {} was replaced (instance {} -> {})", SanitizeDeviceString(ob.device_id),
                   SanitizeDeviceString(seen.instance, 32), SanitizeDeviceString(ob.instance, 32));
        events.push_back(DeviceEvent(EventKind::kDeviceRemoved, it->second, "replaced"));
      } else if (SameIdentity(it->second.identity, ob.identity) &&
                 seen.unidentified == ob.unidentified) {
        prev = std::move(it->second);
      } else {
        // Another device under the same id (re-plugged into the same port):
        // report the old one gone and decide afresh.
        events.push_back(DeviceEvent(EventKind::kDeviceRemoved, it->second, "replaced"));
      }
      previous.erase(it);  // what remains in `previous` has vanished
    }
    std::optional<Device> d =
        ReconcileDevice(ob, prev ? &*prev : nullptr, policy, view, now, events);
    if (d) {
      seen_[d->device_id] = Seen{ob.instance, ob.unidentified};
      current.emplace(d->device_id, std::move(*d));
    }
  }
  for (const auto& [id, gone] : previous) {
    log_->info("device {} removed", SanitizeDeviceString(id));
    events.push_back(DeviceEvent(EventKind::kDeviceRemoved, gone, ""));
  }
  std::erase_if(seen_, [&current](const auto& kv) { return !current.contains(kv.first); });
  // An exception that starts or ends is said before the decisions it
  // causes.
  std::vector<Event> transitions;
  ExceptionTransitions(view, now, current, transitions);
  events.insert(events.begin() + static_cast<std::ptrdiff_t>(leading_events),
                std::make_move_iterator(transitions.begin()),
                std::make_move_iterator(transitions.end()));

  const bool changed = Publish(change, std::move(current), events.size() > leading_events);
  if (!events.empty()) {
    Record(std::move(events));
  } else if (changed) {
    NotifyListener();
  }
  // The policy or the local exceptions may hold other windows now.
  NotifyTimersChanged();
}

std::optional<Device> AgentCore::ReconcileDevice(const ObservedDevice& ob, const Device* prev,
                                                 const Policy& policy, const ExceptionView& view,
                                                 int64_t now, std::vector<Event>& events) {
  Device d;
  d.device_id = ob.device_id;
  d.identity = ob.identity;
  d.first_seen_ms = prev ? prev->first_seen_ms : now;
  // An exception comes before every rule: it names this very device, for a
  // time an approver chose. A device that could not be identified is not
  // known to be that device.
  std::string withheld;
  const DeviceException* ex =
      ob.unidentified.empty()
          ? ActiveException(view.exceptions, options_.terminal_id, ob.identity, now)
          : nullptr;
  if (!ob.unidentified.empty()) {
    // What a device could not show cannot be matched against rules: the
    // `other` default (or any rule on a half-read identity) must not let
    // it in.
    d.decision = Decision{};
    d.decision.action = Action::kBlock;
    d.decision.matched_rule = std::string(kUnidentifiedRuleName);
  } else if (ex != nullptr && !view.clock_problem) {
    d.decision = Decision{};
    d.decision.action = Action::kAllow;
    d.decision.matched_rule = std::string(kExceptionRulePrefix) + ex->id;
  } else {
    d.decision = Evaluate(policy, ob.identity, now);
    if (ex != nullptr) withheld = "; " + ex->id + " not applied: " + *view.clock_problem;
  }
  d.decision.enforced = false;
  d.decision.enforcement_error.clear();

  const bool decision_changed = prev == nullptr || !SameVerdict(prev->decision, d.decision);
  const Enforcement enforcement = Enforce(ob, prev, decision_changed, d);
  if (enforcement == Enforcement::kVanished) {
    // Unplugged between the look and the enforcement: a removal, not a
    // failure. A device seen for the first time is still on record, with
    // the decision it got.
    log_->info("device {} removed while its decision was carried out",
               SanitizeDeviceString(d.device_id));
    if (prev == nullptr) {
      Event decided = DecisionEvent(d);
      decided.detail += "; removed before it was carried out";
      events.push_back(std::move(decided));
    }
    events.push_back(DeviceEvent(EventKind::kDeviceRemoved, prev ? *prev : d, "removed"));
    return std::nullopt;
  }
  const bool apply_failed_now = enforcement == Enforcement::kFailedNow;
  if (decision_changed) {
    Event decided = DecisionEvent(d);
    if (!ob.unidentified.empty()) decided.detail += ": " + ob.unidentified;
    decided.detail = SanitizeDeviceString(decided.detail + withheld, kMaxDetailBytes);
    events.push_back(std::move(decided));
  }
  // One failure event per failing decision, not one per retry.
  const bool failed_before =
      prev != nullptr && !decision_changed && !prev->decision.enforcement_error.empty();
  if (apply_failed_now && !failed_before) events.push_back(EnforcementFailureEvent(d));
  return d;
}

AgentCore::Enforcement AgentCore::Enforce(const ObservedDevice& ob, const Device* prev,
                                          bool decision_changed, Device& d) {
  if (options_.mode != EnforcementMode::kEnforce) return Enforcement::kDone;
  // A failed enforcement is retried on every reconciliation until it
  // succeeds.
  if (!decision_changed && prev->decision.enforced && ob.enforcement_error.empty()) {
    d.decision.enforced = true;
    return Enforcement::kDone;
  }
  Status s = backend_.Apply(ob, d.decision);
  d.decision.enforced = s.ok();
  if (s.ok()) return Enforcement::kDone;
  if (s.error().code == ErrorCode::kNotFound) return Enforcement::kVanished;
  d.decision.enforcement_error = s.error().message;
  return Enforcement::kFailedNow;
}

Event AgentCore::DecisionEvent(const Device& d) const {
  const bool enforce = options_.mode == EnforcementMode::kEnforce;
  // An auditor reading "blocked" must see that part of the device works.
  const std::string kept =
      d.decision.allowed_interface_classes.empty()
          ? ""
          : "; interfaces kept: " + ClassList(d.decision.allowed_interface_classes);
  log_->info("device {} ({} serial '{}', {}): {} by rule '{}'{}{}",
             SanitizeDeviceString(d.device_id), d.identity.VidPid(),
             SanitizeDeviceString(d.identity.serial, 64), DeviceClassName(d.identity.device_class),
             ActionName(d.decision.action), d.decision.matched_rule, kept,
             enforce ? "" : " (audit-only)");
  std::string detail = std::string(ActionName(d.decision.action)) + " by rule '" +
                       d.decision.matched_rule + "'" + kept;
  if (!enforce) detail += " (audit-only: not enforced)";
  return DeviceEvent(KindFor(d.decision.action), d, std::move(detail));
}

Event AgentCore::EnforcementFailureEvent(const Device& d) const {
  log_->error("enforcing {} for device {} failed: {}", ActionName(d.decision.action),
              SanitizeDeviceString(d.device_id), d.decision.enforcement_error);
  Event e = DeviceEvent(EventKind::kEnforcementFailure, d,
                        "could not " + std::string(ActionName(d.decision.action)) + ": " +
                            d.decision.enforcement_error);
  e.severity = Severity::kAlert;
  return e;
}

bool AgentCore::Publish(const PolicyChange* change, std::map<std::string, Device> current,
                        bool changed) {
  // The policy and the decisions it produced become visible together: a
  // snapshot never shows a new version next to decisions of the old one.
  std::lock_guard lock(mu_);
  if (change) {
    policy_ = change->policy;
    policy_version_ = change->version;
    policy_group_ = change->group;
    changed = true;
  }
  if (!changed) {
    // Enforcement results may change without a new event (a retry that
    // now succeeds); the snapshot must still go out.
    for (const auto& [id, d] : current) {
      auto it = devices_.find(id);
      changed = changed || it == devices_.end() ||
                it->second.decision.enforced != d.decision.enforced ||
                it->second.decision.enforcement_error != d.decision.enforcement_error;
    }
    changed = changed || current.size() != devices_.size();
  }
  devices_ = std::move(current);
  return changed;
}

Status AgentCore::ApplyPolicyUpdate(const PolicyBundle& update) {
  std::lock_guard serial(reconcile_mu_);
  uint64_t current_version = 0;
  {
    std::lock_guard lock(mu_);
    current_version = policy_version_;
  }
  if (update.version != 0 && update.version == current_version) return Status::Ok();

  const std::string label = PolicyLabel(update.version, update.group);
  auto reject = [&](std::string why, Severity severity = Severity::kWarning) -> Status {
    if (severity == Severity::kAlert) {
      log_->error("rejected {}: {}; the policy in force stays", label, why);
    } else {
      log_->warn("rejected {}: {}", label, why);
    }
    // Parse errors come one per line; an event detail is a single line.
    std::string detail = label + " rejected: ";
    for (char c : why) {
      if (c == '\n') {
        detail += "; ";
      } else {
        detail += c;
      }
    }
    Record({MakeEvent(EventKind::kPolicyRejected, severity,
                      SanitizeDeviceString(detail, kMaxDetailBytes))});
    return MakeError(ErrorCode::kInvalidArgument, std::move(detail));
  };
  // Nothing in an unauthenticated bundle is believed, its version included.
  if (Status s = verifier_.Verify(update); !s.ok()) {
    return reject(s.error().message, Severity::kAlert);
  }
  if (update.version == 0) return reject("version 0 is not a policy");
  if (update.version < current_version) {
    return reject("older than the policy in force (version " + std::to_string(current_version) +
                      "): rollback",
                  Severity::kAlert);
  }
  if (update.version < highest_accepted_) {
    return reject(
        "older than version " + std::to_string(highest_accepted_) + " accepted before: rollback",
        Severity::kAlert);
  }
  Result<Policy> parsed =
      ParsePolicy(update.policy_yaml, "policy v" + std::to_string(update.version));
  if (!parsed.ok()) return reject(parsed.error().message);

  // Cached before it is enforced: a crash in between restarts on it.
  std::string applied_detail = label + " applied";
  Severity applied_severity = Severity::kInfo;
  if (Status saved = cache_.Save(update); !saved.ok()) {
    log_->error("could not cache {}: {}; a restart before the next policy falls back", label,
                saved.error().message);
    applied_detail += "; not cached: " + saved.error().message;
    applied_severity = Severity::kWarning;
  }
  highest_accepted_ = std::max(highest_accepted_, update.version);

  log_->info("applying {}", label);
  const PolicyChange change{std::move(*parsed), update.version, update.group};
  // Decisions may differ under the new policy: devices are decided again
  // and changed decisions reported after POLICY_APPLIED.
  ReconcileLocked(&change, {MakeEvent(EventKind::kPolicyApplied, applied_severity,
                                      SanitizeDeviceString(applied_detail, kMaxDetailBytes))});
  return Status::Ok();
}

AgentCore::ExceptionView AgentCore::ViewExceptions(const Policy& policy) const {
  ExceptionView view;
  const auto applies = [this](const DeviceException& e) {
    return e.terminal_id.empty() || e.terminal_id == options_.terminal_id;
  };
  for (const DeviceException& e : policy.exceptions) {
    if (applies(e)) view.exceptions.push_back(e);
  }
  for (const DeviceException& e : exception_state_.local) {
    if (applies(e)) view.exceptions.push_back(e);
  }
  view.clock_problem = ClockProblemLocked();
  return view;
}

std::optional<std::string> AgentCore::ClockProblemLocked() const {
  const std::optional<ClockSkew>& skew = exception_state_.skew;
  const int64_t bound_s = options_.max_clock_skew_ms / 1000;
  if (!skew) {
    return "this terminal's clock has never been compared with the collector's (an exception "
           "applies only within " +
           std::to_string(bound_s) + " s of the collector's clock)";
  }
  const int64_t off = skew->skew_ms < 0 ? -skew->skew_ms : skew->skew_ms;
  if (off <= options_.max_clock_skew_ms) return std::nullopt;
  return "this terminal's clock is " + std::to_string(off / 1000) + " s " +
         (skew->skew_ms > 0 ? "ahead of" : "behind") + " the collector's (measured " +
         JstIso8601(skew->measured_at_ms) + "; the bound is " + std::to_string(bound_s) + " s)";
}

std::optional<int64_t> AgentCore::NextExceptionBoundaryMs() const {
  const int64_t now = clock_.NowMs();
  std::optional<int64_t> next;
  const auto consider = [&](int64_t at) {
    if (at > now && (!next || at < *next)) next = at;
  };
  std::lock_guard lock(mu_);
  for (const auto* list : {&policy_.exceptions, &exception_state_.local}) {
    for (const DeviceException& e : *list) {
      if (!e.terminal_id.empty() && e.terminal_id != options_.terminal_id) continue;
      consider(e.not_before_ms);
      consider(e.not_after_ms);
    }
  }
  return next;
}

void AgentCore::ExceptionTransitions(const ExceptionView& view, int64_t now,
                                     const std::map<std::string, Device>& devices,
                                     std::vector<Event>& events) {
  // The device an exception names, as plugged in now, or as the exception
  // names it.
  const auto device_for = [&](const DeviceException& e) {
    for (const auto& [id, d] : devices) {
      if (d.identity.serial == e.serial && d.identity.vendor_id == e.vendor_id &&
          d.identity.product_id == e.product_id) {
        return d;
      }
    }
    return ExceptionDevice(e);
  };
  const auto event = [&](EventKind kind, Severity severity, const DeviceException& e,
                         std::string detail) {
    Event ev = DeviceEvent(kind, device_for(e), std::move(detail));
    ev.severity = severity;
    events.push_back(std::move(ev));
  };

  std::map<std::string, const DeviceException*> in_window;
  for (const DeviceException& e : view.exceptions) {
    if (now >= e.not_before_ms && now < e.not_after_ms) in_window.emplace(e.id, &e);
  }
  // Withheld ones whose window closed are forgotten.
  std::erase_if(exceptions_withheld_,
                [&](const std::string& id) { return !in_window.contains(id); });
  if (!view.clock_problem) exceptions_withheld_.clear();
  // Ended: the window closed, the exception left the policy, or the clock
  // went out of bounds.
  for (auto it = exceptions_applying_.begin(); it != exceptions_applying_.end();) {
    const DeviceException& e = it->second;
    const auto w = in_window.find(e.id);
    std::string why;
    Severity severity = Severity::kInfo;
    if (now >= e.not_after_ms) {
      why = "its window ended at " + JstIso8601(e.not_after_ms);
    } else if (w == in_window.end()) {
      why = "it is no longer in the policy in force";
    } else if (view.clock_problem) {
      why = "withdrawn: " + *view.clock_problem;
      severity = Severity::kWarning;
      exceptions_withheld_.insert(e.id);  // this says why; no second event
    } else if (!SameException(*w->second, e)) {
      why = "it was replaced by a changed exception of the same id";
    }
    if (why.empty()) {
      ++it;
      continue;
    }
    log_->info("{} ended: {}", DescribeException(e), why);
    event(EventKind::kExceptionEnded, severity, e,
          DescribeException(e) + " ended: " + why + "; the device is decided by the policy again");
    it = exceptions_applying_.erase(it);
  }
  for (const auto& [id, e] : in_window) {
    if (exceptions_applying_.contains(id)) continue;
    if (view.clock_problem) {
      // Said once per window, not at every reconciliation.
      if (!exceptions_withheld_.insert(id).second) continue;
      log_->warn("{} not applied: {}", DescribeException(*e), *view.clock_problem);
      event(EventKind::kExceptionEnded, Severity::kWarning, *e,
            DescribeException(*e) + " not applied: " + *view.clock_problem);
      continue;
    }
    std::string detail = DescribeException(*e) + " allows the device from " +
                         JstIso8601(e->not_before_ms) + " until " + JstIso8601(e->not_after_ms);
    if (!e->reason.empty()) detail += "; reason: " + e->reason;
    log_->info("{}", detail);
    event(EventKind::kExceptionStarted, Severity::kInfo, *e, std::move(detail));
    exceptions_applying_.emplace(id, *e);
  }
}

void AgentCore::LoadExceptionStateLocked(std::vector<Event>& events) {
  if (exception_store_ == nullptr) return;
  Result<ExceptionState> loaded = exception_store_->Load();
  if (!loaded.ok()) {
    // Fail closed: no local exception is applied, and the clock counts as
    // never compared until the collector answers a report.
    const std::string detail = "exception store " + exception_store_->Describe() +
                               " cannot be read: " + loaded.error().message +
                               "; local exceptions are not applied";
    log_->error("{}", detail);
    events.push_back(MakeEvent(EventKind::kExceptionEnded, Severity::kAlert,
                               SanitizeDeviceString(detail, kMaxDetailBytes)));
    return;
  }
  std::lock_guard lock(mu_);
  exception_state_ = std::move(*loaded);
}

Status AgentCore::AddLocalException(DeviceException e) {
  const auto invalid = [&](std::string why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "exception '" + SanitizeDeviceString(e.id, 80) + "': " + why);
  };
  if (e.id.empty() || e.id.size() > kMaxExceptionIdChars ||
      !std::all_of(e.id.begin(), e.id.end(), IsExceptionIdChar)) {
    return invalid("id must be 1..64 characters of A-Z a-z 0-9 . _ -");
  }
  if (e.serial.empty()) {
    return invalid("serial must not be empty: an exception names one device");
  }
  if (e.serial.size() > kMaxExceptionSerialBytes) return invalid("serial is too long");
  if (e.reason.size() > kMaxExceptionReasonBytes) {
    return invalid("reason is longer than " + std::to_string(kMaxExceptionReasonBytes) + " bytes");
  }
  if (!e.terminal_id.empty() && e.terminal_id != options_.terminal_id) {
    return invalid("issued for terminal '" + SanitizeDeviceString(e.terminal_id, 128) +
                   "', not for this terminal ('" + options_.terminal_id + "')");
  }
  if (e.not_after_ms <= e.not_before_ms) return invalid("its window ends before it starts");
  if (e.not_after_ms - e.not_before_ms > kMaxExceptionWindowMs) {
    return invalid("its window is longer than 31 days");
  }
  const int64_t now = clock_.NowMs();
  if (e.not_after_ms <= now) {
    return invalid("its window ended at " + JstIso8601(e.not_after_ms));
  }
  {
    std::lock_guard store_lock(store_mu_);
    ExceptionState next;
    {
      std::lock_guard lock(mu_);
      next = exception_state_;
    }
    std::erase_if(next.local, [now](const DeviceException& x) { return x.not_after_ms <= now; });
    for (const DeviceException& x : next.local) {
      if (x.id != e.id) continue;
      if (SameException(x, e)) return Status::Ok();
      return MakeError(ErrorCode::kAlreadyExists,
                       "exception '" + e.id + "': another local exception has this id");
    }
    if (next.local.size() >= kMaxLocalExceptions) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "exception '" + e.id + "': " + std::to_string(kMaxLocalExceptions) +
                           " local exceptions are held already");
    }
    next.local.push_back(e);
    if (exception_store_ != nullptr) {
      if (Status s = exception_store_->Save(next); !s.ok()) {
        log_->error("could not save local {}: {}", DescribeException(e), s.error().message);
        return MakeError(s.error().code, "exception '" + e.id +
                                             "' not added: cannot be saved: " + s.error().message);
      }
    }
    std::lock_guard lock(mu_);
    exception_state_.local = std::move(next.local);
  }
  log_->info("local {} added, {} until {}", DescribeException(e), JstIso8601(e.not_before_ms),
             JstIso8601(e.not_after_ms));
  {
    std::lock_guard serial(reconcile_mu_);
    ReconcileLocked(nullptr, {});
  }
  NotifyTimersChanged();
  return Status::Ok();
}

void AgentCore::ObserveCollectorTime(int64_t collector_time_ms) {
  if (collector_time_ms <= 0) return;
  bool applicable_changed = false;
  {
    std::lock_guard store_lock(store_mu_);
    ExceptionState next;
    bool save = false;
    {
      std::lock_guard lock(mu_);
      const int64_t now = clock_.NowMs();
      const std::optional<ClockSkew> old = exception_state_.skew;
      const bool was_ok = !ClockProblemLocked();
      exception_state_.skew = ClockSkew{now - collector_time_ms, now};
      const std::optional<std::string> problem = ClockProblemLocked();
      applicable_changed = was_ok != !problem;
      if (applicable_changed) {
        if (problem) {
          log_->warn("exceptions are not applied: {}", *problem);
        } else {
          log_->info("this terminal's clock is within {} s of the collector's: exceptions apply",
                     options_.max_clock_skew_ms / 1000);
        }
      }
      const int64_t moved = old ? std::abs(old->skew_ms - exception_state_.skew->skew_ms) : 0;
      save =
          exception_store_ != nullptr && (!old || applicable_changed || moved >= kSkewSaveDeltaMs ||
                                          now - old->measured_at_ms >= kSkewSaveAgeMs);
      if (save) next = exception_state_;
    }
    if (save) {
      if (Status s = exception_store_->Save(next); !s.ok()) {
        log_->warn("could not save the clock skew: {}", s.error().message);
      }
    }
  }
  // The worker decides again: exceptions start or stop applying.
  if (applicable_changed) OnBackendChange();
}

void AgentCore::RecordStopping(std::string_view reason) {
  Record({MakeEvent(EventKind::kAgentStopping, Severity::kInfo, std::string(reason))});
}

void AgentCore::RecordEnforcementFailure(std::string detail) {
  Record({MakeEvent(EventKind::kEnforcementFailure, Severity::kAlert, std::move(detail))});
}

TerminalState AgentCore::Snapshot() const {
  TerminalState s;
  s.hostname = options_.hostname;
  s.os = options_.os;
  s.agent_version = options_.agent_version;
  s.agent_time_ms = clock_.NowMs();
  s.report_interval_s = options_.report_interval_s;
  s.enforcement.mode = options_.mode;
  s.enforcement.backend = std::string(backend_.Name());

  std::lock_guard lock(mu_);
  s.applied_policy_version = policy_version_;
  std::string failures;
  std::size_t failed = 0;
  for (const auto& [id, d] : devices_) {
    s.devices.push_back(ForReport(d));
    if (!d.decision.enforcement_error.empty()) {
      ++failed;
      if (!failures.empty()) failures += "; ";
      failures += SanitizeDeviceString(id) + ": " + d.decision.enforcement_error;
    }
  }
  if (!backend_error_.empty()) {
    s.enforcement.healthy = false;
    s.enforcement.detail = "device backend not running: " + backend_error_;
  } else if (failed > 0) {
    s.enforcement.healthy = false;
    s.enforcement.detail =
        "enforcement failed for " + std::to_string(failed) + " device(s): " + failures;
  } else {
    s.enforcement.healthy = true;
    if (options_.mode == EnforcementMode::kAuditOnly) {
      s.enforcement.detail = "audit-only mode: decisions are reported, not enforced";
    }
  }
  s.enforcement.detail = SanitizeDeviceString(s.enforcement.detail, kMaxDetailBytes);
  return s;
}

uint64_t AgentCore::applied_policy_version() const {
  std::lock_guard lock(mu_);
  return policy_version_;
}

Event AgentCore::MakeEvent(EventKind kind, Severity severity, std::string detail) const {
  Event e;
  e.time_ms = clock_.NowMs();
  e.kind = kind;
  e.severity = severity;
  e.detail = std::move(detail);
  return e;
}

Event AgentCore::DeviceEvent(EventKind kind, const Device& device, std::string detail) const {
  Event e = MakeEvent(
      kind,
      kind == EventKind::kDeviceRemoved ? Severity::kInfo : SeverityFor(device.decision.action),
      SanitizeDeviceString(detail, kMaxDetailBytes));
  e.device = ForReport(device);
  return e;
}

void AgentCore::Record(std::vector<Event> events) {
  // Who was at the terminal is asked once per batch: every event of one
  // reconciliation happened under the same logon.
  std::string user;
  if (options_.current_user) user = SanitizeDeviceString(options_.current_user(), kMaxUserBytes);
  for (Event& e : events) {
    if (e.user.empty()) e.user = user;
    const EventKind kind = e.kind;
    Result<uint64_t> seq = outbox_.Append(std::move(e));
    if (!seq.ok()) {
      // The outbox could not persist its seq; the event cannot be sent
      // without risking a duplicate seq. Loud, so monitoring sees it.
      log_->error("could not record {} event: {}", EventKindName(kind), seq.error().message);
    }
  }
  NotifyListener();
}

void AgentCore::NotifyListener() {
  if (listener_) listener_();
}

}  // namespace mamori
