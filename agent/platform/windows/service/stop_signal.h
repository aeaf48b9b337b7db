#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace mamori {

// Wakes a periodic loop early when it should end. A plain mutex, flag and
// condition variable rather than std::stop_token with
// condition_variable_any: with MinGW's libstdc++ under Wine, request_stop()
// racing a thread entering the stop_token wait can leave that thread asleep
// for good, and the join never returns.
class StopSignal {
 public:
  // Sleeps up to `period`; true when Request() was called (before or during).
  template <class Rep, class Period>
  bool WaitFor(std::chrono::duration<Rep, Period> period) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, period, [this] { return stop_; });
  }
  void Request() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace mamori
