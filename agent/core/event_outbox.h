#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/event.h"
#include "common/result.h"

namespace mamori {

// Events waiting for the collector's acknowledgement. Every event gets a
// per-agent monotonic seq; the collector stores (terminal, seq) idempotently
// and acknowledges the highest contiguous seq it holds, so the outbox hands
// out seqs without gaps.
//
// Implementations are thread-safe.
class EventOutbox {
 public:
  virtual ~EventOutbox() = default;
  // Assigns the next seq and records the event; returns the seq under which
  // it will be delivered. The event counts as recorded only on success.
  virtual Result<uint64_t> Append(Event event) = 0;
  // Up to `max` unacknowledged events, in seq order.
  virtual std::vector<Event> Pending(std::size_t max) = 0;
  // Discards the events with seq <= `through`: the collector has stored them.
  virtual void Ack(uint64_t through) = 0;
};

// Keeps events in memory and only the seq counters on disk (the durable
// journal replaces it). Bounded: on overflow the oldest events that were not
// yet handed out, block and alert events last, are folded into one
// EVENTS_DROPPED event carrying the count.
class InMemoryEventOutbox final : public EventOutbox {
 public:
  static constexpr std::size_t kDefaultMaxEvents = 10000;
  // Files under state_dir.
  static constexpr const char* kNextSeqFile = "next_seq";
  static constexpr const char* kAckedSeqFile = "acked_seq";

  // Reads the counters in `state_dir` (which must exist). Events that were
  // recorded but not acknowledged before a restart are gone; their seqs are
  // filled with EVENTS_DROPPED events so the collector's contiguous ack can
  // advance (for a seq the collector already holds, the filler is ignored
  // as a duplicate). `max_events` must be at least 2.
  static Result<std::unique_ptr<InMemoryEventOutbox>> Open(
      const std::string& state_dir, const Clock& clock, std::size_t max_events = kDefaultMaxEvents);

  Result<uint64_t> Append(Event event) override;
  std::vector<Event> Pending(std::size_t max) override;
  void Ack(uint64_t through) override;

  // Events held (for tests and diagnostics).
  std::size_t size() const;
  uint64_t next_seq() const;

 private:
  struct Entry {
    Event event;
    // > 0 for an overflow marker: how many events it stands for.
    uint64_t dropped = 0;
  };

  InMemoryEventOutbox(std::string state_dir, const Clock& clock, std::size_t max_events);

  // Frees one slot by folding an event that was never handed out into an
  // overflow marker. False when no such event exists.
  bool CompactOneLocked();
  // The next event to fold into the marker, or entries_.size().
  std::size_t VictimLocked() const;
  // Index of the first entry never returned by Pending().
  std::size_t FirstUnsentLocked() const;
  // Index of the overflow marker among unsent entries, or entries_.size().
  std::size_t UnsentMarkerLocked() const;
  void SetMarkerDetailLocked(Entry& marker) const;
  // Gives entries from `index` on consecutive seqs starting at `first`.
  void RenumberLocked(std::size_t index, uint64_t first);
  Status PersistNextSeqLocked(uint64_t next) const;

  const std::string state_dir_;
  const Clock& clock_;
  const std::size_t max_events_;

  mutable std::mutex mu_;
  std::deque<Entry> entries_;  // guarded by mu_; seqs contiguous, ascending
  uint64_t next_seq_ = 1;      // guarded by mu_
  // Highest seq that may have reached the collector (returned by Pending, or
  // issued before this process started). Such seqs are never renumbered.
  uint64_t sent_through_ = 0;  // guarded by mu_
};

}  // namespace mamori
