#pragma once

#include <chrono>
#include <cstdint>

namespace mamori {

// Wall clock behind an interface so tests inject time.
class Clock {
 public:
  virtual ~Clock() = default;
  // Unix epoch milliseconds.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace mamori
