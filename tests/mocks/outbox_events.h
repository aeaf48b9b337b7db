#pragma once

// The events an outbox hands out, decoded, for tests that look at what
// the agent recorded; and events as the outbox would hand them out.

#include <cstddef>
#include <vector>

#include "agent/core/event_outbox.h"
#include "common/device/event.h"
#include "proto/wire/convert.h"

namespace mamori {

inline std::vector<Event> DecodeRecords(const std::vector<OutboxRecord>& records) {
  std::vector<Event> out;
  out.reserve(records.size());
  for (const OutboxRecord& r : records) {
    std::optional<Event> e = ParseEvent(r.payload);
    // A record that does not decode is a bug the test must see.
    out.push_back(e ? std::move(*e) : Event{});
  }
  return out;
}

// EventOutbox::Pending, decoded.
inline std::vector<Event> PendingEvents(EventOutbox& outbox, std::size_t max) {
  return DecodeRecords(outbox.Pending(max));
}

inline std::vector<OutboxRecord> EncodeRecords(const std::vector<Event>& events) {
  std::vector<OutboxRecord> out;
  out.reserve(events.size());
  for (const Event& e : events) out.push_back(OutboxRecord{e.seq, SerializeEvent(e)});
  return out;
}

}  // namespace mamori
