#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/device/event.h"

namespace mamori {

// The bookkeeping every event outbox shares: seqs, what was handed out, and
// the bounded queue's compaction. Not thread-safe and free of I/O: an outbox
// holds one under its mutex and persists what changed.
//
// Seqs stay contiguous so the collector's contiguous ack never sticks on a
// gap. A seq that may have reached the collector is never given to another
// event; a seq never handed out may be (compaction renumbers those).
class OutboxQueue {
 public:
  struct Entry {
    Event event;
    // > 0 for an overflow marker: how many events it stands for.
    uint64_t dropped = 0;
    // Size of the event's on-disk record, for an outbox that has one.
    std::size_t record_bytes = 0;
    // The event as that record holds it (SerializeEvent); empty when the
    // event changed since (a marker's count, a renumbered seq).
    std::string payload;
  };

  // `max_events` is raised to 2 (a marker and one event).
  explicit OutboxQueue(std::size_t max_events);

  // Replaces the state, e.g. with what a previous run left. Every entry
  // counts as handed out: it may have reached the collector. `entries` have
  // contiguous seqs below `next_seq`.
  void Restore(std::deque<Entry> entries, uint64_t next_seq);

  std::size_t max_events() const { return max_events_; }
  const std::deque<Entry>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  uint64_t next_seq() const { return next_seq_; }
  uint64_t sent_through() const { return sent_through_; }
  bool HasRoom() const { return entries_.size() < max_events_; }
  // The entry holding `seq`, or null.
  Entry* Find(uint64_t seq);
  void set_record(std::size_t index, std::size_t bytes, std::string payload) {
    entries_[index].record_bytes = bytes;
    entries_[index].payload = std::move(payload);
  }

  // When full, folds the oldest never-sent events (block and alert events
  // last) into one counted EVENTS_DROPPED marker until at most `target`
  // entries remain or nothing is left to fold. True when entries changed.
  bool MakeRoom(std::size_t target);
  // With no room left: counts one more dropped event in the never-sent
  // marker and returns its seq; nullopt when there is no such marker.
  std::optional<uint64_t> FoldIntoMarker();
  // Appends under next_seq() and returns that seq; `as_marker` turns the
  // event into a marker standing for itself (the event that did not fit).
  uint64_t Push(Event event, bool as_marker, std::size_t record_bytes = 0,
                std::string payload = "");

  // Hands out up to `max` entries from the front, in seq order, and returns
  // how many: they count as handed out from then on.
  std::size_t HandOut(std::size_t max);
  // HandOut, returning the events.
  std::vector<Event> Pending(std::size_t max);

  struct AckResult {
    std::size_t removed = 0;
    // The collector acknowledged seqs never sent: the never-sent entries
    // were moved past `through`.
    bool renumbered = false;
  };
  AckResult Ack(uint64_t through);

 private:
  bool CompactOne(bool& changed);
  std::size_t Victim() const;
  std::size_t FirstUnsent() const;
  std::size_t UnsentMarker() const;
  void SetMarkerDetail(Entry& marker) const;
  void Renumber(std::size_t index, uint64_t first);

  std::size_t max_events_;
  std::deque<Entry> entries_;  // seqs contiguous, ascending
  uint64_t next_seq_ = 1;
  // Highest seq that may have reached the collector. Never renumbered.
  uint64_t sent_through_ = 0;
};

}  // namespace mamori
