#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/base/clock.h"

namespace mamori {

// Per source address token bucket for the unauthenticated enrollment port:
// `per_minute` attempts refill evenly over a minute, with bursts up to the
// same number. At most `max_tracked` addresses are remembered (least
// recently seen evicted first), so a flood of addresses costs bounded
// memory. Thread-safe.
class AttemptLimiter {
 public:
  AttemptLimiter(const Clock* clock, int per_minute, std::size_t max_tracked);

  // Takes one attempt for `address`; false when its bucket is empty.
  bool Allow(std::string_view address);
  std::size_t tracked() const;

 private:
  struct Bucket {
    double tokens = 0;
    int64_t last_ms = 0;
    std::list<std::string>::iterator lru;
  };

  const Clock* clock_;
  const double capacity_;
  const double per_ms_;
  const std::size_t max_tracked_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;                       // guarded by mu_; most recent first
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

// The host part of a gRPC peer string ("ipv4:127.0.0.1:5000" ->
// "127.0.0.1", "ipv6:[::1]:5000" -> "::1"); the input when unrecognized.
std::string PeerHost(std::string_view peer);

}  // namespace mamori
