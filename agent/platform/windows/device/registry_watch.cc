#include "agent/platform/windows/device/registry_watch.h"

#include <algorithm>
#include <utility>

#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"

namespace mamori {
namespace {

// Adds what `more` names that `found` lacks. A value removed again after it
// was restored is one change by the other program, reported as first seen.
void MergeDrift(std::vector<RegistryDrift>& found, const std::vector<RegistryDrift>& more) {
  for (const RegistryDrift& d : more) {
    const bool known = std::any_of(found.begin(), found.end(), [&](const RegistryDrift& f) {
      return f.expected.key == d.expected.key && f.expected.name == d.expected.name;
    });
    if (!known) found.push_back(d);
  }
}

std::string DescribeDrift(const std::vector<RegistryDrift>& drift) {
  std::string out;
  for (const RegistryDrift& d : drift) {
    if (!out.empty()) out += "; ";
    out += d.Describe();
  }
  return out;
}

}  // namespace

// --- Win32RegistryChangeSignal ---

Win32RegistryChangeSignal::Win32RegistryChangeSignal(HKEY root, std::string key)
    : root_(root),
      key_path_(std::move(key)),
      changed_(::CreateEventW(nullptr, FALSE, FALSE, nullptr)),
      stopped_(::CreateEventW(nullptr, TRUE, FALSE, nullptr)) {}

Win32RegistryChangeSignal::~Win32RegistryChangeSignal() = default;

Status Win32RegistryChangeSignal::Arm() {
  if (!changed_ || !stopped_) {
    return MakeError(ErrorCode::kUnavailable, "CreateEventW failed for the registry watch");
  }
  // Closing a watched key signals its event; the reset keeps that from
  // reading as a change. A real change in between is still caught: the
  // caller checks after Arm.
  key_.reset();
  ::ResetEvent(changed_.get());
  LSTATUS rc =
      ::RegCreateKeyExW(root_, Utf8ToUtf16(key_path_).c_str(), 0, nullptr, REG_OPTION_NON_VOLATILE,
                        KEY_NOTIFY | KEY_WOW64_64KEY, nullptr, key_.out(), nullptr);
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("RegCreateKeyExW(" + key_path_ + ")", rc));
  }
  rc = ::RegNotifyChangeKeyValue(
      key_.get(), TRUE, REG_NOTIFY_CHANGE_NAME | REG_NOTIFY_CHANGE_LAST_SET, changed_.get(), TRUE);
  if (rc != ERROR_SUCCESS) {
    key_.reset();
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegNotifyChangeKeyValue(" + key_path_ + ")", rc));
  }
  return Status::Ok();
}

RegistryChangeSignal::Wake Win32RegistryChangeSignal::Wait(std::chrono::milliseconds timeout) {
  // INFINITE is 0xFFFFFFFF: keep below it so a huge period still times out.
  const DWORD ms = static_cast<DWORD>(
      std::clamp<long long>(timeout.count(), 0, static_cast<long long>(INFINITE) - 1));
  const HANDLE handles[2] = {stopped_.get(), changed_.get()};
  switch (::WaitForMultipleObjects(2, handles, FALSE, ms)) {
    case WAIT_OBJECT_0:
      return Wake::kStopped;
    case WAIT_OBJECT_0 + 1:
      return Wake::kChanged;
    case WAIT_TIMEOUT:
      return Wake::kTimeout;
    default:
      // Cannot happen with valid handles; never spin, never stop watching.
      return ::WaitForSingleObject(stopped_.get(), ms) == WAIT_OBJECT_0 ? Wake::kStopped
                                                                        : Wake::kTimeout;
  }
}

void Win32RegistryChangeSignal::Stop() {
  if (stopped_) ::SetEvent(stopped_.get());
}

// --- RegistryTamperReport ---

std::string RegistryTamperReport::Describe() const {
  std::string out;
  if (!drift.empty()) {
    out = restored ? "registry policy changed outside the agent (restored): "
                   : "registry policy changed outside the agent (NOT restored): ";
    out += DescribeDrift(drift);
  }
  if (!error.empty()) {
    if (!out.empty()) out += "; ";
    out += error;
  }
  return out;
}

// --- RegistryPolicyWatcher ---

RegistryPolicyWatcher::RegistryPolicyWatcher(Registry& registry, RegistryChangeSignal& signal,
                                             std::chrono::milliseconds period,
                                             TamperCallback on_tamper)
    : registry_(registry), signal_(signal), period_(period), on_tamper_(std::move(on_tamper)) {}

RegistryPolicyWatcher::~RegistryPolicyWatcher() { Stop(); }

Status RegistryPolicyWatcher::SetDesired(std::vector<RegistryPolicyValue> desired) {
  std::lock_guard lock(mu_);
  // Kept even when writing fails: the watch then keeps restoring it.
  desired_ = std::move(desired);
  last_error_.clear();
  RegistryPolicyEnforcer enforcer(registry_);
  return enforcer.Apply(desired_);
}

void RegistryPolicyWatcher::Start() {
  std::lock_guard lock(lifecycle_mu_);
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

void RegistryPolicyWatcher::Stop() {
  std::lock_guard lock(lifecycle_mu_);
  if (!thread_.joinable()) return;
  thread_.request_stop();
  signal_.Stop();
  thread_.join();
  thread_ = std::jthread();
}

void RegistryPolicyWatcher::Run(std::stop_token stop) {
  std::string last_arm_error;
  while (!stop.stop_requested()) {
    if (Status armed = signal_.Arm(); !armed) {
      // Without change notifications the period still re-checks.
      const std::string error = "registry change notification unavailable, checking every " +
                                std::to_string(period_.count()) +
                                " ms only: " + armed.error().message;
      if (error != last_arm_error) Report({{}, false, error});
      last_arm_error = error;
    } else {
      last_arm_error.clear();
    }
    CheckNow();
    if (signal_.Wait(period_) == RegistryChangeSignal::Wake::kStopped) break;
  }
}

void RegistryPolicyWatcher::CheckNow() {
  RegistryTamperReport report;
  {
    std::lock_guard lock(mu_);
    if (desired_.empty()) return;
    RegistryPolicyEnforcer enforcer(registry_);
    auto drift = enforcer.Verify(desired_);
    if (!drift.ok()) {
      report.error = "registry policy could not be verified: " + drift.error().message;
    } else if (drift->empty()) {
      last_error_.clear();
      return;
    } else {
      report = RestoreLocked(enforcer, std::move(*drift));
    }
    // A restored change is news every time (someone changed it again); a
    // state the agent cannot fix is reported once until it changes.
    if (report.restored) {
      last_error_.clear();
    } else {
      const std::string text = report.Describe();
      if (text == last_error_) return;
      last_error_ = text;
    }
  }
  Report(report);
}

RegistryTamperReport RegistryPolicyWatcher::RestoreLocked(RegistryPolicyEnforcer& enforcer,
                                                          std::vector<RegistryDrift> drift) {
  RegistryTamperReport report;
  report.drift = drift;
  for (int round = 1;; ++round) {
    std::string failed;
    for (const RegistryDrift& d : drift) {
      if (Status s = registry_.Write(d.expected.key, d.expected.name, d.expected.value); !s) {
        // A key deleted under the write fails it; the next round retries.
        if (failed.empty()) failed = "could not restore " + d.Describe() + ": " + s.error().message;
      }
    }
    auto after = enforcer.Verify(desired_);
    if (after.ok() && after->empty()) {
      report.restored = true;
      return report;
    }
    if (after.ok()) {
      MergeDrift(report.drift, *after);
      drift = std::move(*after);
    }
    if (round == kRestoreRounds) {
      // What is still wrong now, so the event names what needs a person.
      report.error = failed;
      if (!report.error.empty()) report.error += "; ";
      report.error += after.ok() ? "registry policy still differs after " + std::to_string(round) +
                                       " restore attempts: " + DescribeDrift(drift)
                                 : "registry policy could not be verified after restoring: " +
                                       after.error().message;
      return report;
    }
    std::this_thread::sleep_for(kRestorePause);
  }
}

void RegistryPolicyWatcher::Report(const RegistryTamperReport& report) {
  if (on_tamper_) on_tamper_(report);
}

}  // namespace mamori
