#include "agent/core/backoff.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace mamori {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                 RandomSource random)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      random_(std::move(random)) {
  if (!random_) {
    // shared_ptr keeps the engine alive inside the copyable std::function.
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    random_ = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
}

std::chrono::milliseconds Backoff::CurrentCeiling() const {
  const int64_t initial = initial_.count();
  const int64_t max = max_.count();
  // initial * 2^attempt without overflow: stop doubling once past max.
  int64_t ceiling = initial;
  for (int i = 0; i < attempt_ && ceiling < max; ++i) {
    ceiling = ceiling > max / 2 ? max : ceiling * 2;
  }
  return std::chrono::milliseconds(std::min(ceiling, max));
}

std::chrono::milliseconds Backoff::Next() {
  const int64_t ceiling = CurrentCeiling().count();
  double r = random_();
  // A misbehaving source must not produce negative or over-long delays.
  if (!(r >= 0.0)) r = 0.0;
  if (r > 1.0) r = 1.0;
  const auto delay = static_cast<int64_t>(std::floor(r * static_cast<double>(ceiling)));
  // Saturates so that a very long outage cannot overflow the counter; the
  // ceiling reached max long before.
  if (attempt_ < kMaxAttemptCount) ++attempt_;
  return std::chrono::milliseconds(std::clamp<int64_t>(delay, 0, ceiling));
}

}  // namespace mamori
