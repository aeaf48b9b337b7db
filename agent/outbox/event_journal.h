#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/core/event_outbox.h"
#include "agent/outbox/outbox_queue.h"
#include "agent/storage/durable_file.h"
#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/device/event.h"

namespace mamori {

// The durable outbox: every event is appended to `state_dir/events.journal`
// (format in journal_format.h) and fdatasync'ed before Append returns its
// seq. After a restart, unacknowledged events are delivered again under
// their original seqs; the collector stores (terminal, seq) idempotently, so
// a kill -9 loses nothing and duplicates nothing.
//
// Acknowledged records are dropped from the file by an atomic rewrite once
// they make up at least half of it. Bounded like every outbox (OutboxQueue):
// on overflow a tenth of the bound is compacted at once, so the rewrite
// that compaction needs is rare. A damaged tail (a write cut by a crash,
// a bad disk) is cut off at the last valid record and reported as an event.
//
// Also under state_dir: acked_seq (the collector's last ack) and sent_seq
// (highest seq handed to the reporter), both hints that keep a restart from
// redelivering or from reusing a seq the collector may hold; next_seq, left
// by earlier agents that kept events in memory, is read once so an upgrade
// reuses no seq.
class JournalEventOutbox final : public EventOutbox {
 public:
  static constexpr std::size_t kDefaultMaxEvents = 10000;
  static constexpr const char* kJournalFile = "events.journal";
  static constexpr const char* kAckedSeqFile = "acked_seq";
  static constexpr const char* kSentSeqFile = "sent_seq";
  static constexpr const char* kLegacyNextSeqFile = "next_seq";
  // The acknowledged part of the journal is rewritten away once it is at
  // least this large and at least half the file.
  static constexpr std::size_t kMinReclaimBytes = 64 * 1024;

  // Opens or creates the journal in `state_dir` (which must exist; UTF-8).
  // `max_events` is at least 2.
  static Result<std::unique_ptr<JournalEventOutbox>> Open(
      const std::string& state_dir, const Clock& clock, std::size_t max_events = kDefaultMaxEvents);
  ~JournalEventOutbox() override;
  JournalEventOutbox(const JournalEventOutbox&) = delete;
  JournalEventOutbox& operator=(const JournalEventOutbox&) = delete;

  Result<uint64_t> Append(Event event) override;
  std::vector<OutboxRecord> Pending(std::size_t max) override;
  void Ack(uint64_t through) override;

  // For tests and diagnostics.
  std::size_t size() const;
  uint64_t next_seq() const;
  uint64_t journal_bytes() const;

 private:
  JournalEventOutbox(std::string state_dir, const Clock& clock, std::size_t max_events);

  // Reads the counters and the journal (creating it when absent) into the
  // queue; returns what to report when a damaged tail was cut off, or "".
  Result<std::string> Load();
  Result<uint64_t> AppendWhenFullLocked(Event event);
  // Appends the records of `entries` and syncs; on success sets their
  // record_bytes and payload. On failure the file is cut back to where it
  // was.
  Status WriteRecordsLocked(const std::vector<OutboxQueue::Entry*>& entries);
  // Replaces the journal by one holding exactly `queue` (atomically).
  Status RewriteLocked(OutboxQueue& queue);
  // Rewrites when acknowledged or superseded records fill half the file.
  void ReclaimLocked();

  const std::string state_dir_;
  const std::string path_;  // UTF-8, for messages
  const Clock& clock_;

  mutable std::mutex mu_;
  DurableFile file_;             // guarded by mu_; the journal, open for writing
  uint64_t end_ = 0;             // guarded by mu_; offset of the next record
  OutboxQueue queue_;            // guarded by mu_
  uint64_t sent_persisted_ = 0;  // guarded by mu_; value in sent_seq
};

}  // namespace mamori
