#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/policy/policy.h"

namespace mamori {

// The last comparison of the terminal's clock with the collector's.
struct ClockSkew {
  int64_t skew_ms = 0;         // terminal clock minus collector clock
  int64_t measured_at_ms = 0;  // terminal clock
};

// What the agent keeps about exceptions from one start to the next.
struct ExceptionState {
  // Exceptions added on this terminal (an accepted offline unlock code),
  // not carried by the signed policy.
  std::vector<DeviceException> local;
  // nullopt until the collector's clock has been seen once.
  std::optional<ClockSkew> skew;
};

// Where the agent keeps its ExceptionState. Unlike the policy cache there is
// no signature to check again: what is stored was validated before it was
// saved, and the store lives in the agent's state directory, which only the
// agent's account can write.
class ExceptionStore {
 public:
  virtual ~ExceptionStore() = default;
  // An empty state when nothing was saved yet; an error when something is
  // there but cannot be read or decoded.
  virtual Result<ExceptionState> Load() = 0;
  // Replaces the stored state durably.
  virtual Status Save(const ExceptionState& state) = 0;
  // The location, for messages.
  virtual std::string Describe() const = 0;
};

}  // namespace mamori
