#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/device/event.h"

namespace mamori {

// A position in the newest-first order of events: (time, seq, terminal).
struct EventPosition {
  int64_t time_ms = 0;
  uint64_t seq = 0;
  std::string terminal_id;
};

struct EventQuery {
  std::string terminal_id;       // empty = any
  std::string group;             // empty = any; else group and descendants
  std::vector<EventKind> kinds;  // empty = any
  int64_t since_ms = 0;          // 0 = unbounded
  int64_t until_ms = 0;          // 0 = unbounded
  uint32_t limit = 100;
  // Substring of terminal id, user, matched rule, "vvvv:pppp", manufacturer,
  // product or serial; ASCII letters match case-insensitively. Empty = any.
  std::string text;
  // Only events strictly after this position (paging); nullopt = from the newest.
  std::optional<EventPosition> after;
};

// The events agents reported, stored once per (terminal, seq).
class EventRepository {
 public:
  virtual ~EventRepository() = default;

  // Stores events idempotently by (terminal, seq): a seq already stored is
  // ignored. Returns the highest seq S such that 1..S are all stored.
  virtual Result<uint64_t> AppendEvents(std::string_view terminal_id,
                                        const std::vector<Event>& events, int64_t received_ms) = 0;
  virtual Result<uint64_t> AckedThrough(std::string_view terminal_id) = 0;
  // Newest first. The group filter uses the terminal's group; each event
  // comes back with its terminal's current group.
  virtual Result<std::vector<StoredEvent>> QueryEvents(const EventQuery& query) = 0;
};

}  // namespace mamori
