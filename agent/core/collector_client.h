#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "agent/core/event_outbox.h"
#include "common/base/result.h"
#include "common/device/event.h"
#include "common/device/terminal_state.h"
#include "common/policy/policy_bundle.h"

namespace mamori {

struct StateAckInfo {
  int64_t collector_time_ms = 0;
  uint64_t assigned_policy_version = 0;
};

// The agent's side of the agent service. Implementations are thread-safe.
class CollectorClient {
 public:
  virtual ~CollectorClient() = default;
  virtual Result<StateAckInfo> ReportState(const TerminalState& state) = 0;
  // Returns acked_through_seq.
  virtual Result<uint64_t> ReportEvents(const std::vector<OutboxRecord>& events) = 0;
  // Blocks, delivering bundles to `on_update`, until the stream ends, fails
  // or Cancel() is called; returns why it ended.
  virtual Status WatchPolicy(uint64_t current_version,
                             const std::function<void(const PolicyBundle&)>& on_update) = 0;
  // Ends a WatchPolicy in progress (from another thread).
  virtual void CancelWatch() = 0;
};

}  // namespace mamori
