#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "agent/core/backoff.h"

namespace mamori {

// When to renew the terminal certificate and when to raise the alarm,
// from its validity alone, so the timing is testable with any clock:
//  - renewal is due at two thirds of the life (not_before + 2/3 life);
//  - after a failure the next attempt waits a capped, jittered backoff;
//  - once less than one sixth of the life remains and no renewal
//    succeeded, a failure is reported at once and then at most once per
//    `alarm_interval` (a day; shorter lives: a sixth of the life).
// Not thread-safe: the identity keeper's thread owns it.
class RenewalSchedule {
 public:
  RenewalSchedule(int64_t not_before_ms, int64_t not_after_ms,
                  std::chrono::milliseconds backoff_initial, std::chrono::milliseconds backoff_max,
                  Backoff::RandomSource random = nullptr);

  int64_t renew_at_ms() const { return renew_at_ms_; }
  int64_t alarm_from_ms() const { return alarm_from_ms_; }
  int64_t not_after_ms() const { return not_after_ms_; }

  // True when an attempt should be made at `now_ms`.
  bool Due(int64_t now_ms) const { return now_ms >= next_attempt_ms_; }
  // When the next attempt is due.
  int64_t next_attempt_ms() const { return next_attempt_ms_; }
  // An attempt failed at `now_ms`: the next one waits a backoff.
  void Failed(int64_t now_ms);
  // True when a renewal-failed alarm should be raised at `now_ms`; call
  // AlarmRaised after raising it.
  bool AlarmDue(int64_t now_ms) const;
  void AlarmRaised(int64_t now_ms) { last_alarm_ms_ = now_ms; }
  int failures() const { return failures_; }

 private:
  const int64_t not_after_ms_;
  const int64_t renew_at_ms_;
  const int64_t alarm_from_ms_;
  const int64_t alarm_interval_ms_;
  Backoff backoff_;
  int64_t next_attempt_ms_;
  int failures_ = 0;
  std::optional<int64_t> last_alarm_ms_;
};

}  // namespace mamori
