#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/core/backoff.h"
#include "agent/core/event_outbox.h"
#include "agent/core/renewal_schedule.h"
#include "agent/core/terminal_identity.h"
#include "common/base/clock.h"
#include "common/base/result.h"

namespace mamori {

struct IdentityKeeperOptions {
  std::chrono::milliseconds backoff_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};
  // How long a renewed identity may go without one successful call before
  // the agent goes back to the previous one and renews again.
  std::chrono::milliseconds probation{std::chrono::minutes(5)};
  // How often an identity on probation is looked at.
  std::chrono::milliseconds probation_poll{std::chrono::milliseconds(500)};
  // Name, version and OS for the enrollment request (token and CSR are
  // added per attempt).
  EnrollmentParams enrollment;
  Backoff::RandomSource random;
};

// What the keeper needs from its surroundings. Pointers are not owned and
// must outlive the keeper; `enrollment` may be null when the agent is not
// configured to enroll.
struct IdentityKeeperDeps {
  IdentityStore* store = nullptr;
  EnrollmentClient* enrollment = nullptr;
  IdentityChannel* channel = nullptr;
  EventOutbox* outbox = nullptr;
  const Clock* clock = nullptr;
  // A fresh P-256 key and a CSR for it.
  std::function<Result<KeyAndRequest>(std::string_view common_name)> make_key;
  // The enrollment token (read fresh on every attempt, so an operator can
  // put a new one in place without a restart).
  std::function<Result<std::string>()> read_token;
  // The token was used successfully: delete it.
  std::function<void()> token_used;
  // The terminal has just enrolled: the channel uses `identity`; start
  // reporting.
  std::function<void(const TerminalIdentity& identity)> on_enrolled;
  // Report soon: events were recorded (renewed, renewal failed), or a
  // renewed identity waits for a call that proves it.
  std::function<void()> notify;
};

// Keeps the terminal's certificate: enrolls when there is none, renews at
// two thirds of its life with a fresh key, keeps the previous pair until
// the new one has been accepted by the collector, records
// CERTIFICATE_RENEWED, and raises CERTIFICATE_RENEWAL_FAILED (alert) while
// renewal keeps failing in the last sixth of the life.
//
// Step() does one round of that work and says when it wants to run again;
// Start() runs it on a thread. Tests drive Step() with a fake clock.
class IdentityKeeper {
 public:
  IdentityKeeper(IdentityKeeperDeps deps, IdentityKeeperOptions options,
                 std::optional<TerminalIdentity> current,
                 std::shared_ptr<spdlog::logger> logger = nullptr);
  ~IdentityKeeper();
  IdentityKeeper(const IdentityKeeper&) = delete;
  IdentityKeeper& operator=(const IdentityKeeper&) = delete;

  // One round; returns how long to wait before the next.
  std::chrono::milliseconds Step();

  void Start();
  // Wakes and joins the thread; an RPC in flight finishes first (the
  // channel's deadline bounds it). Idempotent.
  void Stop();

  // The identity in use (nullopt before enrollment).
  std::optional<TerminalIdentity> current() const;
  // The error of the last failed enrollment or renewal ("" if none).
  std::string last_error() const;

 private:
  std::chrono::milliseconds StepEnroll(int64_t now);
  std::chrono::milliseconds StepProbation(int64_t now);
  std::chrono::milliseconds StepRenew(int64_t now);
  Result<TerminalIdentity> Enroll();
  Result<TerminalIdentity> Renew();
  void Adopt(TerminalIdentity identity);
  void RaiseAlarm(int64_t now);
  void Record(EventKind kind, Severity severity, std::string detail);

  IdentityKeeperDeps deps_;
  const IdentityKeeperOptions options_;
  const std::shared_ptr<spdlog::logger> log_;

  mutable std::mutex mu_;
  std::optional<TerminalIdentity> current_;  // guarded by mu_
  std::string last_error_;                   // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::condition_variable cv_;

  // The keeper's thread (or the test calling Step) only:
  Backoff enroll_backoff_;
  int enroll_attempts_ = 0;
  std::optional<RenewalSchedule> schedule_;
  std::optional<TerminalIdentity> pending_;
  int64_t pending_since_ms_ = 0;

  std::jthread thread_;
};

}  // namespace mamori
