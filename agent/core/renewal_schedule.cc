#include "agent/core/renewal_schedule.h"

#include <algorithm>

namespace mamori {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

}  // namespace

RenewalSchedule::RenewalSchedule(int64_t not_before_ms, int64_t not_after_ms,
                                 std::chrono::milliseconds backoff_initial,
                                 std::chrono::milliseconds backoff_max,
                                 Backoff::RandomSource random)
    : not_after_ms_(not_after_ms),
      renew_at_ms_(not_before_ms + std::max<int64_t>(0, not_after_ms - not_before_ms) * 2 / 3),
      alarm_from_ms_(not_after_ms - std::max<int64_t>(0, not_after_ms - not_before_ms) / 6),
      alarm_interval_ms_(std::clamp<int64_t>((not_after_ms - not_before_ms) / 6, 1, kDayMs)),
      backoff_(backoff_initial, backoff_max, std::move(random)),
      next_attempt_ms_(renew_at_ms_) {}

void RenewalSchedule::Failed(int64_t now_ms) {
  ++failures_;
  next_attempt_ms_ = now_ms + backoff_.Next().count();
}

bool RenewalSchedule::AlarmDue(int64_t now_ms) const {
  if (now_ms < alarm_from_ms_ || failures_ == 0) return false;
  return !last_alarm_ms_ || now_ms - *last_alarm_ms_ >= alarm_interval_ms_;
}

}  // namespace mamori
