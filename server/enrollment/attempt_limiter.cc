#include "server/enrollment/attempt_limiter.h"

#include <algorithm>

namespace mamori {

AttemptLimiter::AttemptLimiter(const Clock* clock, int per_minute, std::size_t max_tracked)
    : clock_(clock),
      capacity_(std::max(1, per_minute)),
      per_ms_(std::max(1, per_minute) / 60'000.0),
      max_tracked_(std::max<std::size_t>(1, max_tracked)) {}

bool AttemptLimiter::Allow(std::string_view address) {
  const int64_t now = clock_->NowMs();
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(address));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_tracked_) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(address);
    it = buckets_.emplace(std::string(address), Bucket{capacity_, now, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Bucket& b = it->second;
  if (now > b.last_ms) {
    b.tokens = std::min(capacity_, b.tokens + static_cast<double>(now - b.last_ms) * per_ms_);
    b.last_ms = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

std::size_t AttemptLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

std::string PeerHost(std::string_view peer) {
  std::string_view rest = peer;
  if (rest.starts_with("ipv4:") || rest.starts_with("ipv6:")) {
    rest.remove_prefix(5);
  } else {
    return std::string(peer);
  }
  // gRPC writes the brackets of IPv6 peers percent-encoded: "ipv6:%5B::1%5D:5000".
  if (rest.starts_with("%5B") || rest.starts_with("%5b")) {
    const auto close = std::min(rest.find("%5D"), rest.find("%5d"));
    if (close == std::string_view::npos) return std::string(peer);
    return std::string(rest.substr(3, close - 3));
  }
  if (rest.starts_with("[")) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::string(peer);
    rest = rest.substr(1, close - 1);
    // percent-encoded zone ids (fe80::1%25eth0) stay as they are
    return std::string(rest);
  }
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos) rest = rest.substr(0, colon);
  return std::string(rest);
}

}  // namespace mamori
