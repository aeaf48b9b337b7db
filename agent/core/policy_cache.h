#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "agent/core/collector_client.h"
#include "common/base/result.h"

namespace mamori {

// Where the agent keeps the last policy bundle it accepted, so that it
// enforces that policy from its next start on, before (or without) reaching
// the collector. The cache is not trusted: the agent verifies the bundle's
// signature again when it loads it.
class PolicyCache {
 public:
  virtual ~PolicyCache() = default;
  // The cached bundle; nullopt when there is none. An error when something
  // is there but cannot be read or decoded.
  virtual Result<std::optional<PolicyBundle>> Load() = 0;
  // The highest version ever accepted (0 = none): a validly signed but
  // older bundle swapped into the cache is refused as a rollback.
  virtual Result<uint64_t> HighestAccepted() = 0;
  // Stores `bundle` durably, then raises the highest accepted version to
  // its version (never lowers it).
  virtual Status Save(const PolicyBundle& bundle) = 0;
  // The location, for messages.
  virtual std::string Describe() const = 0;
};

}  // namespace mamori
