#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/device/event.h"

namespace mamori {

// Events waiting for the collector's acknowledgement. Every event gets a
// per-agent monotonic seq; the collector stores (terminal, seq) idempotently
// and acknowledges the highest contiguous seq it holds, so the outbox hands
// out seqs without gaps.
//
// Implementations are thread-safe.
//
// An event waiting for the collector, as the outbox recorded it: its seq
// and its payload, the bytes the collector receives (a serialized
// mamori.v1.Event), encoded once when the event was recorded and sent as
// they are. Opaque to the core.
struct OutboxRecord {
  uint64_t seq = 0;
  std::string payload;
};

class EventOutbox {
 public:
  virtual ~EventOutbox() = default;
  // Assigns the next seq and records the event; returns the seq under which
  // it will be delivered. The event counts as recorded only on success.
  virtual Result<uint64_t> Append(Event event) = 0;
  // Up to `max` unacknowledged events, in seq order.
  virtual std::vector<OutboxRecord> Pending(std::size_t max) = 0;
  // Discards the events with seq <= `through`: the collector has stored them.
  virtual void Ack(uint64_t through) = 0;
};

}  // namespace mamori
