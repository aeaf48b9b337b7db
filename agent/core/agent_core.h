#pragma once

#include <spdlog/logger.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/core/collector_client.h"
#include "agent/core/device_backend.h"
#include "agent/core/event_outbox.h"
#include "agent/core/exception_store.h"
#include "agent/core/policy_cache.h"
#include "agent/core/policy_verifier.h"
#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/device/device.h"
#include "common/device/terminal_state.h"
#include "common/policy/policy.h"

namespace mamori {

// The rule name of the decision for a device that could not be identified
// (ObservedDevice::unidentified): always block.
inline constexpr std::string_view kUnidentifiedRuleName = "unidentified";

struct AgentCoreOptions {
  EnforcementMode mode = EnforcementMode::kEnforce;
  uint32_t report_interval_s = 60;
  std::string hostname;
  std::string os;
  std::string agent_version = MAMORI_VERSION;
  // The bootstrap policy: enforced when the agent has never accepted a
  // bundle (no policy cache), until the collector sends one; nullopt = the
  // built-in default (removable storage blocked).
  std::optional<Policy> local_policy;
  // Where local_policy came from, for the AGENT_STARTED event.
  std::string local_policy_source;
  // The user logged on at the terminal (e.g. DOMAIN\\user), attached to every
  // event as it is recorded; unset or "" = not known.
  std::function<std::string()> current_user;
  // This terminal's id (from its certificate): exceptions issued for
  // another terminal never apply here. "" = unknown: only exceptions for
  // every terminal apply.
  std::string terminal_id;
  // An exception's window is set by the collector's clock; the agent
  // applies it by its own clock only while the two differ by at most this
  // much (as last measured from the collector's answer to a report).
  int64_t max_clock_skew_ms = kDefaultMaxClockSkewMs;

  static constexpr int64_t kDefaultMaxClockSkewMs = 5 * 60 * 1000;
};

// The agent's state machine: holds the policy in force, decides for every
// device the backend reports, has the backend carry decisions out, and
// records what happened as events. Thread-safe.
//
// Policy bundles are accepted only when `verifier` vouches for them; each
// accepted bundle is saved to `cache`, and Start enforces the cached bundle
// (verified again) before the collector is reached.
class AgentCore {
 public:
  AgentCore(DeviceBackend& backend, EventOutbox& outbox, const Clock& clock,
            const PolicyVerifier& verifier, PolicyCache& cache, AgentCoreOptions options,
            std::shared_ptr<spdlog::logger> logger = nullptr);
  ~AgentCore();
  AgentCore(const AgentCore&) = delete;
  AgentCore& operator=(const AgentCore&) = delete;

  // Called (from core threads, without core locks held) whenever the state
  // snapshot or the outbox changed. Set before Start; must not block.
  void SetChangeListener(std::function<void()> listener);
  // Called with every policy about to be enforced (the one Start loads, then
  // each accepted bundle) before any device is decided under it, one call
  // at a time. For enforcement that is class-wide and must follow the
  // policy in force (the Windows registry line). Set before Start.
  void SetPolicyListener(std::function<void(const Policy&)> listener);
  // Where local exceptions and the last clock comparison are kept across
  // restarts; loaded by Start. Without one they live in memory only. Set
  // before Start.
  void SetExceptionStore(ExceptionStore& store) { exception_store_ = &store; }

  // Loads the policy cache, records AGENT_STARTED, starts the backend's
  // watch and decides for the devices already present. A cached bundle that
  // does not verify, is older than a version accepted before, or has gone
  // missing is reported (POLICY_REJECTED, alert) and the built-in default
  // enforced instead. A backend that cannot watch is an error.
  Status Start();
  // Stops the backend watch and the worker. Idempotent.
  void Stop();

  // Re-reads the devices and decides for new or changed ones. Runs on the
  // worker after a backend notification; public for tests.
  void Reconcile();

  // Has the worker reconcile, as a backend notification does; for device
  // notifications that reach the process some other way (the Windows
  // service's SERVICE_CONTROL_DEVICEEVENT). Does not block.
  void NotifyDevicesChanged() { OnBackendChange(); }

  // Applies a bundle from the collector. The same version again is ignored.
  // A bundle that is not signed by the verifier's key, is older than the
  // policy in force or than any version accepted before (rollback), or does
  // not parse is rejected (POLICY_REJECTED; alert for signature and
  // rollback) and the old policy stays. An accepted bundle is cached.
  Status ApplyPolicyUpdate(const PolicyBundle& update);

  // Allows one device on this terminal for a window of absolute time,
  // without the collector (an accepted offline unlock code): saved to the
  // exception store before it is used, so a restart keeps it, and applied at
  // once (the devices present are decided again). Refused with a message
  // naming the field when: the id is empty, longer than 64 characters or not
  // [A-Za-z0-9._-]; the serial is empty or the reason too long; the terminal
  // is another one; the window is empty, longer than 31 days, or already
  // over; another local exception has the same id (the very same exception
  // again is accepted and changes nothing); 1000 local exceptions are held;
  // or it cannot be saved. Like every exception, it applies only while this
  // terminal's clock is within the skew bound of the collector's.
  Status AddLocalException(DeviceException exception);

  // The collector's clock as it answered a report (StateAck.collector_time),
  // read now: remembers the skew (saved to the exception store when it
  // moved) and decides the devices again when exceptions become applicable
  // or stop being so. 0 or less is ignored.
  void ObserveCollectorTime(int64_t collector_time_ms);

  // The next instant (this terminal's clock) at which an exception of the
  // policy in force or a local one starts or ends; nullopt when none will.
  // The worker decides again at that instant by itself. Public for tests.
  std::optional<int64_t> NextExceptionBoundaryMs() const;

  // Records AGENT_STOPPING.
  void RecordStopping(std::string_view reason);
  // Records an ENFORCEMENT_FAILURE alert found outside a reconciliation
  // (the Windows registry line not applied, or changed behind the agent's
  // back), like every other event: with the logged-on user, and the
  // change listener (the reporter) told.
  void RecordEnforcementFailure(std::string detail);

  TerminalState Snapshot() const;
  uint64_t applied_policy_version() const;
  EnforcementMode mode() const { return options_.mode; }

 private:
  struct PolicyChange {
    Policy policy;
    uint64_t version = 0;
    std::string group;
  };

  // Decides for the present devices under the policy in force, or under
  // `change` which is then committed together with the decisions; records
  // `events` followed by the device events. Requires reconcile_mu_.
  void ReconcileLocked(const PolicyChange* change, std::vector<Event> events);
  // One device of a reconciliation: its decision under `policy`, carried
  // out unless in audit-only mode, and the events it causes. `prev` is the
  // same device as the last reconciliation saw it (nullptr = new).
  // Nullopt when the device vanished while its decision was carried out.
  // The exceptions that may apply on this terminal and whether the clock
  // lets them: the policy's and the local ones.
  struct ExceptionView {
    std::vector<DeviceException> exceptions;
    std::optional<std::string> clock_problem;  // set: none applies, and why
  };
  ExceptionView ViewExceptions(const Policy& policy) const;  // requires mu_
  std::optional<std::string> ClockProblemLocked() const;     // requires mu_
  std::optional<Device> ReconcileDevice(const ObservedDevice& ob, const Device* prev,
                                        const Policy& policy, const ExceptionView& view,
                                        int64_t now, std::vector<Event>& events);
  // EXCEPTION_STARTED / EXCEPTION_ENDED for exceptions that began or stopped
  // applying since the last reconciliation. Requires reconcile_mu_.
  void ExceptionTransitions(const ExceptionView& view, int64_t now,
                            const std::map<std::string, Device>& devices,
                            std::vector<Event>& events);
  // Loads the exception store at Start. Requires reconcile_mu_.
  void LoadExceptionStateLocked(std::vector<Event>& events);
  // Has the worker recompute when it next has to wake for a window.
  void NotifyTimersChanged();
  enum class Enforcement { kDone, kFailedNow, kVanished };
  // Applies `d`'s decision when it is new or was not carried out yet.
  Enforcement Enforce(const ObservedDevice& ob, const Device* prev, bool decision_changed,
                      Device& d);
  Event DecisionEvent(const Device& d) const;
  Event EnforcementFailureEvent(const Device& d) const;
  // Makes the policy of `change` and the decisions `current` visible
  // together; true when the snapshot changed (`changed`: events say so).
  bool Publish(const PolicyChange* change, std::map<std::string, Device> current, bool changed);
  // Sets the policy in force from the cache (or the built-in default when
  // the cache is rejected), appending any rejection to `events`. Returns
  // what is enforced, for AGENT_STARTED. Requires reconcile_mu_.
  std::string LoadCachedPolicyLocked(std::vector<Event>& events);
  void WorkerLoop();
  void OnBackendChange();
  // Appends and notifies; failures are logged (never silently lost).
  void Record(std::vector<Event> events);
  Event MakeEvent(EventKind kind, Severity severity, std::string detail) const;
  Event DeviceEvent(EventKind kind, const Device& device, std::string detail) const;
  void NotifyListener();

  DeviceBackend& backend_;
  EventOutbox& outbox_;
  const Clock& clock_;
  const PolicyVerifier& verifier_;
  PolicyCache& cache_;
  const AgentCoreOptions options_;
  const std::shared_ptr<spdlog::logger> log_;
  std::function<void()> listener_;                      // set before Start, then read-only
  std::function<void(const Policy&)> policy_listener_;  // likewise
  ExceptionStore* exception_store_ = nullptr;           // likewise

  // Serializes reconciliation and policy changes (which reconcile), so
  // Apply calls for one device never interleave. Not held while reading a
  // snapshot.
  std::mutex reconcile_mu_;
  // Highest bundle version ever accepted, from the cache's record; a bundle
  // below it is a rollback. Guarded by reconcile_mu_.
  uint64_t highest_accepted_ = 0;
  // Exceptions announced as applying (EXCEPTION_STARTED recorded, no
  // EXCEPTION_ENDED yet), and those announced as withheld because of the
  // clock. Guarded by reconcile_mu_.
  std::map<std::string, DeviceException> exceptions_applying_;
  std::set<std::string> exceptions_withheld_;

  // Serializes saves of the exception store, so an older state never
  // overwrites a newer one. Taken before mu_.
  std::mutex store_mu_;

  mutable std::mutex mu_;
  Policy policy_;                          // guarded by mu_
  uint64_t policy_version_ = 0;            // guarded by mu_
  std::string policy_group_;               // guarded by mu_
  std::map<std::string, Device> devices_;  // guarded by mu_; by device_id
  // What the last reconciliation saw of each device beyond its identity,
  // by device_id. Guarded by reconcile_mu_.
  struct Seen {
    std::string instance;      // ObservedDevice::instance
    std::string unidentified;  // ObservedDevice::unidentified
  };
  std::map<std::string, Seen> seen_;
  bool backend_running_ = false;    // guarded by mu_
  std::string backend_error_;       // guarded by mu_
  ExceptionState exception_state_;  // guarded by mu_

  std::mutex worker_mu_;
  // A plain flag rather than a stop_token wait: with MinGW's libstdc++ under
  // Wine, request_stop() racing a thread entering condition_variable_any's
  // stop_token wait can leave it asleep for good, and Stop() never returns.
  std::condition_variable worker_cv_;
  bool worker_stop_ = false;
  bool devices_dirty_ = false;   // guarded by worker_mu_
  bool timers_changed_ = false;  // guarded by worker_mu_
  std::thread worker_;
};

}  // namespace mamori
