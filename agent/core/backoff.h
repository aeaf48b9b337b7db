#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace mamori {

// Capped exponential backoff with full jitter: the n-th delay (n from 0) is
// uniform in [0, min(max, initial * 2^n)]. Full jitter spreads the reconnects
// of a fleet of terminals after a collector outage instead of letting them
// arrive in synchronized waves.
//
// Not thread-safe: each retry loop owns its Backoff.
class Backoff {
 public:
  // Returns a number uniform in [0, 1). Injected so tests get exact delays.
  using RandomSource = std::function<double()>;

  // A null `random` uses a per-instance Mersenne Twister seeded from
  // std::random_device.
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          RandomSource random = nullptr);

  // The delay before the next attempt; advances the attempt count.
  std::chrono::milliseconds Next();
  // The upper bound Next() will draw from, without advancing.
  std::chrono::milliseconds CurrentCeiling() const;
  // Call after a success: the next failure starts again from `initial`.
  void Reset() { attempt_ = 0; }

  // Failures since the last Reset (saturates at kMaxAttemptCount).
  int attempt() const { return attempt_; }

  static constexpr int kMaxAttemptCount = 64;

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  RandomSource random_;
  int attempt_ = 0;
};

}  // namespace mamori
