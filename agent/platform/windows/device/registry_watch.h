#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/platform/windows/device/registry_policy.h"
#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/registry.h"
#include "common/base/result.h"

namespace mamori {

// Wakes the watcher when something changes below a registry key. A thin
// interface over RegNotifyChangeKeyValue (Win32RegistryChangeSignal) so the
// watcher's loop is tested with scripted wake-ups.
class RegistryChangeSignal {
 public:
  enum class Wake { kChanged, kTimeout, kStopped };
  virtual ~RegistryChangeSignal() = default;

  // Asks for one notification of the next change. Called before every
  // check, so a change made while checking wakes the next Wait.
  virtual Status Arm() = 0;
  // Until a change since Arm, `timeout`, or Stop.
  virtual Wake Wait(std::chrono::milliseconds timeout) = 0;
  // Makes the current and every later Wait return kStopped. Thread-safe.
  virtual void Stop() = 0;
};

// RegNotifyChangeKeyValue on `key` under `root` and its whole subtree
// (names and values), signalling an event. The key is created when
// missing and reopened at every Arm, so deleting and recreating it is seen.
class Win32RegistryChangeSignal final : public RegistryChangeSignal {
 public:
  Win32RegistryChangeSignal(HKEY root, std::string key);
  ~Win32RegistryChangeSignal() override;
  Win32RegistryChangeSignal(const Win32RegistryChangeSignal&) = delete;
  Win32RegistryChangeSignal& operator=(const Win32RegistryChangeSignal&) = delete;

  Status Arm() override;
  Wake Wait(std::chrono::milliseconds timeout) override;
  void Stop() override;

 private:
  const HKEY root_;
  const std::string key_path_;
  UniqueHkey key_;
  UniqueHandle changed_;  // auto-reset
  UniqueHandle stopped_;  // manual-reset
};

// The key the agent watches: both halves of the registry line live below
// it (RemovableStorageDevices and DeviceInstall).
inline constexpr std::string_view kPolicyWatchKey = "SOFTWARE\\Policies\\Microsoft\\Windows";

// What one check found that the agent must report, as it ended: after
// every restore round, not after the first.
struct RegistryTamperReport {
  // Values found changed, deleted or added, each once as first seen, in any
  // round; empty when only `error` is set.
  std::vector<RegistryDrift> drift;
  // True when the whole line read back as wanted after restoring.
  bool restored = false;
  // Why the check, the restore or the watch failed, naming what was still
  // wrong when the watcher gave up; "" when none did.
  std::string error;

  // "registry policy changed outside the agent (restored): K\N: expected
  // 1, found 0; ..." or the error.
  std::string Describe() const;
};

// Keeps the registry line as the policy dictates: writes it, then re-checks
// it whenever the registry below kPolicyWatchKey changes and at least every
// `period`, restores what drifted, and reports each finding through
// `on_tamper` (the agent records it as an event). A change may still be
// under way when the watcher wakes (RegDeleteTreeW removes values and
// subkeys one call at a time, and so removes again what was just
// restored): a restore that does not read back whole is repeated, up to
// kRestoreRounds times kRestorePause apart, and one report tells how it
// ended. Reports are not repeated while the same error persists.
// Thread-safe.
class RegistryPolicyWatcher {
 public:
  using TamperCallback = std::function<void(const RegistryTamperReport&)>;

  // Long enough to outlast a tree deletion by another program on a loaded
  // machine, short enough that a restore Windows refuses is reported
  // within a tenth of a second.
  static constexpr int kRestoreRounds = 5;
  static constexpr std::chrono::milliseconds kRestorePause{20};

  RegistryPolicyWatcher(Registry& registry, RegistryChangeSignal& signal,
                        std::chrono::milliseconds period, TamperCallback on_tamper);
  ~RegistryPolicyWatcher();
  RegistryPolicyWatcher(const RegistryPolicyWatcher&) = delete;
  RegistryPolicyWatcher& operator=(const RegistryPolicyWatcher&) = delete;

  // Writes and verifies `desired` (RegistryLineFor(policy)), the agent's own
  // change: not reported as tampering. Call at start and on every policy
  // change; an error is an enforcement failure of the registry line.
  Status SetDesired(std::vector<RegistryPolicyValue> desired);
  // Starts the watch thread. Idempotent.
  void Start();
  // Stops and joins it; `on_tamper` is not called after Stop returns.
  void Stop();

  // One check as the thread does it, reporting through `on_tamper`.
  // Public for tests that drive the watcher without a thread.
  void CheckNow();

 private:
  void Run(std::stop_token stop);
  // Writes back `drift` and whatever Verify still finds, round after
  // round, until the line reads back whole or kRestoreRounds are spent.
  // Holds mu_.
  RegistryTamperReport RestoreLocked(RegistryPolicyEnforcer& enforcer,
                                     std::vector<RegistryDrift> drift);
  void Report(const RegistryTamperReport& report);

  Registry& registry_;
  RegistryChangeSignal& signal_;
  const std::chrono::milliseconds period_;
  const TamperCallback on_tamper_;

  std::mutex mu_;                             // serializes checks and writes
  std::vector<RegistryPolicyValue> desired_;  // guarded by mu_
  std::string last_error_;                    // guarded by mu_; suppresses repeats

  std::mutex lifecycle_mu_;
  std::jthread thread_;  // guarded by lifecycle_mu_
};

}  // namespace mamori
