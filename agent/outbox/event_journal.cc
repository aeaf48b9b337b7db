#include "agent/outbox/event_journal.h"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <string_view>
#include <utility>

#include "agent/outbox/journal_format.h"
#include "agent/storage/seq_file.h"
#include "common/base/logging.h"
#include "proto/wire/convert.h"

namespace mamori {
namespace {

// Crash safety, point by point (a "crash" is kill -9 or a power loss).
//
// Append: the record is written at the end of the file, then fdatasync'ed,
// and only then enters the queue and is its seq returned. A crash before the
// sync leaves either nothing, a whole record (delivered after the restart:
// the collector never saw it) or a torn tail, which Open cuts off and
// reports. A failed write is cut off at once, so a later record never sits
// behind garbage that would hide it from recovery.
//
// Rewrite (acknowledged records dropped, overflow compaction, renumbering):
// the new journal goes to a temp file in the same directory, is fsync'ed,
// renamed over the journal, and the directory is fsync'ed.
//  - crash before the rename: the old journal is intact and complete; the
//    temp file is deleted by the next Open. Whatever only the new journal
//    held was not yet recorded (the Append that caused it had not returned).
//  - crash after the rename, before the directory sync: the name points to
//    the old or the new file, each complete and synced. The old one only
//    adds acknowledged events (duplicates the collector ignores) or holds
//    never-sent events under their seqs before compaction.
//  - after: the process writes to the new file (the temp's descriptor).
// acked_seq is written only after a rewrite that renumbered events past an
// ack, so a restart never skips renumbered events as acknowledged; for a
// plain ack a stale acked_seq only costs redelivering acknowledged events.
// sent_seq is on disk before events leave through Pending: should a damaged
// journal lose records, the seqs that may be at the collector are filled
// with EVENTS_DROPPED events instead of being reused for new events.

constexpr std::string_view kTempInfix = ".tmp.";

// Temp files of a rewrite that a crash interrupted.
Status RemoveStaleTemps(const std::string& state_dir, const std::string& journal_name) {
  namespace fs = std::filesystem;
  const std::string prefix = journal_name + std::string(kTempInfix);
  std::error_code ec;
  fs::directory_iterator it(PathFromUtf8(state_dir), ec);
  if (ec) return MakeError(ErrorCode::kIo, state_dir + ": " + ec.message());
  for (const fs::directory_entry& entry : it) {
    if (!PathToUtf8(entry.path().filename()).starts_with(prefix)) continue;
    if (Status s = RemoveFile(entry.path()); !s.ok()) {
      GetLogger("outbox")->warn("{}", s.error().message);
    }
  }
  return Status::Ok();
}

// Stands in for seqs in [from, through] whose events are lost but may be
// awaited by the collector: its contiguous ack moves past them, and where
// it holds the original the filler is ignored as a duplicate.
void AddFillers(std::deque<OutboxQueue::Entry>& entries, uint64_t from, uint64_t through,
                int64_t now_ms, std::string_view why) {
  for (uint64_t seq = from; seq <= through; ++seq) {
    OutboxQueue::Entry e;
    e.event.seq = seq;
    e.event.time_ms = now_ms;
    e.event.kind = EventKind::kEventsDropped;
    e.event.severity = Severity::kWarning;
    e.event.detail = "1 event dropped: " + std::string(why);
    entries.push_back(std::move(e));
  }
}

// `error` about the event with `seq`.
Error InEvent(uint64_t seq, Error error) {
  error.message = "event " + std::to_string(seq) + ": " + error.message;
  return error;
}

}  // namespace

JournalEventOutbox::JournalEventOutbox(std::string state_dir, const Clock& clock,
                                       std::size_t max_events)
    : state_dir_(std::move(state_dir)),
      path_(state_dir_ + "/" + kJournalFile),
      clock_(clock),
      queue_(max_events) {}

JournalEventOutbox::~JournalEventOutbox() = default;

Result<std::unique_ptr<JournalEventOutbox>> JournalEventOutbox::Open(const std::string& state_dir,
                                                                     const Clock& clock,
                                                                     std::size_t max_events) {
  std::unique_ptr<JournalEventOutbox> outbox(new JournalEventOutbox(state_dir, clock, max_events));
  Result<std::string> recovered = outbox->Load();
  if (!recovered.ok()) return recovered.error();
  if (!recovered->empty()) {
    Event report;
    report.time_ms = clock.NowMs();
    report.kind = EventKind::kEventsDropped;
    report.severity = Severity::kWarning;
    report.detail = std::move(*recovered);
    if (auto seq = outbox->Append(std::move(report)); !seq.ok()) return seq.error();
  }
  return outbox;
}

Result<std::string> JournalEventOutbox::Load() {
  std::lock_guard lock(mu_);
  auto log = GetLogger("outbox");
  if (Status s = RemoveStaleTemps(state_dir_, kJournalFile); !s.ok()) return s.error();

  // A stale or damaged acked_seq only costs redelivering acknowledged
  // events, so it never blocks the start. A damaged sent_seq or next_seq
  // does: guessing could reuse a seq the collector holds.
  uint64_t acked = 0;
  if (auto a = ReadSeqFile(state_dir_ + "/" + kAckedSeqFile); !a.ok()) {
    log->warn("{} (assuming nothing was acknowledged)", a.error().message);
  } else {
    acked = a->value_or(0);
  }
  auto sent = ReadSeqFile(state_dir_ + "/" + kSentSeqFile);
  if (!sent.ok()) return sent.error();
  auto legacy_next = ReadSeqFile(state_dir_ + "/" + kLegacyNextSeqFile);
  if (!legacy_next.ok()) return legacy_next.error();
  sent_persisted_ = sent->value_or(0);
  // Seqs that may have reached the collector (earlier agents, which kept events in memory, issued
  // seqs below next_seq).
  const uint64_t legacy = legacy_next->value_or(0);
  const uint64_t maybe_sent = std::max(sent_persisted_, legacy > 0 ? legacy - 1 : 0);

  std::error_code ec;
  const bool exists = std::filesystem::exists(PathFromUtf8(path_), ec);
  if (ec) return MakeError(ErrorCode::kIo, path_ + ": " + ec.message());
  ParsedJournal parsed;
  std::string report;
  if (exists) {
    auto file = DurableFile::Open(PathFromUtf8(path_), DurableFile::Disposition::kOpenExisting);
    if (!file.ok()) return file.error();
    auto bytes = file->ReadAll();
    if (!bytes.ok()) return bytes.error();
    auto p = ParseJournal(*bytes, path_);
    if (!p.ok()) return p.error();
    parsed = std::move(*p);
    if (parsed.valid_bytes < bytes->size()) {
      const std::size_t cut = bytes->size() - parsed.valid_bytes;
      Status s = file->Truncate(parsed.valid_bytes);
      if (s.ok()) s = file->Sync();
      if (!s.ok()) {
        return MakeError(ErrorCode::kIo, "cannot cut off the damaged tail: " + s.error().message);
      }
      log->error("{}: {}; {} bytes discarded", path_, parsed.damage, cut);
      report = "journal recovered: " + std::to_string(cut) +
               " bytes of a damaged tail discarded at offset " +
               std::to_string(parsed.valid_bytes) + " (" + parsed.damage + ")";
    }
    file_ = std::move(*file);
    end_ = parsed.valid_bytes;
  }

  const int64_t now = clock_.NowMs();
  std::deque<OutboxQueue::Entry> entries;
  uint64_t highest = 0;
  for (JournalRecord& r : parsed.records) {
    const uint64_t seq = r.event.seq;
    highest = std::max(highest, seq);
    if (seq <= acked) continue;
    if (!entries.empty() && seq <= entries.back().event.seq) {
      // A later version of an overflow marker.
      if (seq >= entries.front().event.seq) {
        auto& e = entries[static_cast<std::size_t>(seq - entries.front().event.seq)];
        e.event = std::move(r.event);
        e.record_bytes = r.bytes;
        e.payload = std::move(r.payload);
      }
      continue;
    }
    if (!entries.empty() && seq > entries.back().event.seq + 1) {
      // Only fillers that were never written leave such a gap.
      AddFillers(entries, entries.back().event.seq + 1, seq - 1, now,
                 "the event journal was damaged");
    }
    entries.push_back(OutboxQueue::Entry{std::move(r.event), 0, r.bytes, std::move(r.payload)});
  }
  const uint64_t covered = std::max(acked, entries.empty() ? 0 : entries.back().event.seq);
  if (maybe_sent > covered) {
    uint64_t from = covered + 1;
    if (maybe_sent - covered > queue_.max_events()) {
      log->error(
          "{} events that may have been sent are missing, more than the outbox holds ({}); "
          "seqs {}..{} stay unfilled",
          maybe_sent - covered, queue_.max_events(), from, maybe_sent - queue_.max_events());
      from = maybe_sent - queue_.max_events() + 1;
    }
    log->warn("events {}..{} of the previous run are lost (damaged journal or upgrade)", from,
              maybe_sent);
    AddFillers(entries, from, maybe_sent, now, "the agent restarted before it was acknowledged");
  }
  const uint64_t next_seq = std::max({parsed.next_seq_floor, highest + 1, acked + 1, maybe_sent + 1,
                                      entries.empty() ? 1 : entries.back().event.seq + 1});
  queue_.Restore(std::move(entries), next_seq);
  if (!exists) {
    if (Status s = RewriteLocked(queue_); !s.ok()) return s.error();
  }
  return report;
}

Status JournalEventOutbox::WriteRecordsLocked(const std::vector<OutboxQueue::Entry*>& entries) {
  std::string buf;
  std::vector<std::size_t> sizes;
  std::vector<std::string> payloads;
  for (const OutboxQueue::Entry* e : entries) {
    payloads.push_back(SerializeEvent(e->event));
    auto n = AppendJournalRecord(payloads.back(), buf);
    if (!n.ok()) return InEvent(e->event.seq, n.error());
    sizes.push_back(*n);
  }
  Status s = file_.WriteAt(end_, buf);
  if (s.ok()) s = file_.SyncData();
  if (!s.ok()) {
    // A torn record would hide every later one from recovery.
    if (Status t = file_.Truncate(end_); !t.ok()) {
      GetLogger("outbox")->error("cannot cut off a failed write: {}", t.error().message);
    }
    return s;
  }
  end_ += buf.size();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i]->record_bytes = sizes[i];
    entries[i]->payload = std::move(payloads[i]);
  }
  return Status::Ok();
}

Status JournalEventOutbox::RewriteLocked(OutboxQueue& queue) {
  std::string buf = EncodeJournalHeader(queue.next_seq());
  std::vector<std::size_t> sizes;
  std::vector<std::string> payloads;
  sizes.reserve(queue.size());
  payloads.reserve(queue.size());
  for (const OutboxQueue::Entry& e : queue.entries()) {
    payloads.push_back(e.payload.empty() ? SerializeEvent(e.event) : e.payload);
    auto n = AppendJournalRecord(payloads.back(), buf);
    if (!n.ok()) return InEvent(e.event.seq, n.error());
    sizes.push_back(*n);
  }
  const std::filesystem::path path = PathFromUtf8(path_);
  auto tmp = DurableFile::CreateUnique(PathFromUtf8(path_ + std::string(kTempInfix)));
  if (!tmp.ok()) return tmp.error();
  Status s = tmp->WriteAt(0, buf);
  if (s.ok()) s = tmp->Sync();
  if (s.ok()) {
    // Windows before 10 1709 (and Wine) cannot replace a file that is open;
    // the old journal is not written to again anyway.
    const bool was_open = file_.is_open();
    (void)file_.Close();
    s = AtomicReplace(tmp->path(), path);
    if (!s.ok() && was_open) {
      auto reopened = DurableFile::Open(path, DurableFile::Disposition::kOpenExisting);
      if (reopened.ok()) {
        file_ = std::move(*reopened);
      } else {
        GetLogger("outbox")->error("{}", reopened.error().message);
      }
    }
  }
  if (!s.ok()) {
    const std::filesystem::path tmp_path = tmp->path();
    (void)tmp->Close();
    (void)RemoveFile(tmp_path);
    return s;
  }
  // From here on the new file is the journal, synced or not: both versions
  // are complete (see the crash points above).
  if (Status d = SyncDirectory(PathFromUtf8(state_dir_)); !d.ok()) {
    GetLogger("outbox")->error("{} (the journal rewrite may not survive a power loss)",
                               d.error().message);
  }
  file_ = std::move(*tmp);
  end_ = buf.size();
  for (std::size_t i = 0; i < sizes.size(); ++i)
    queue.set_record(i, sizes[i], std::move(payloads[i]));
  return Status::Ok();
}

void JournalEventOutbox::ReclaimLocked() {
  uint64_t live = 0;
  for (const OutboxQueue::Entry& e : queue_.entries()) live += e.record_bytes;
  if (end_ < kJournalHeaderBytes + live) return;
  const uint64_t dead = end_ - kJournalHeaderBytes - live;
  if (dead < kMinReclaimBytes || dead < live) return;
  if (Status s = RewriteLocked(queue_); !s.ok()) {
    GetLogger("outbox")->warn("{} (retried at the next acknowledgement)", s.error().message);
  }
}

Result<uint64_t> JournalEventOutbox::Append(Event event) {
  std::lock_guard lock(mu_);
  if (!queue_.HasRoom()) return AppendWhenFullLocked(std::move(event));
  OutboxQueue::Entry entry;
  entry.event = std::move(event);
  entry.event.seq = queue_.next_seq();
  if (Status s = WriteRecordsLocked({&entry}); !s.ok()) return s.error();
  return queue_.Push(std::move(entry.event), /*as_marker=*/false, entry.record_bytes,
                     std::move(entry.payload));
}

Result<uint64_t> JournalEventOutbox::AppendWhenFullLocked(Event event) {
  // Compaction rewrites records, so it works on a copy that replaces the
  // queue only once the journal holds it. A tenth of the bound is freed at
  // once to keep those rewrites rare.
  OutboxQueue next = queue_;
  const std::size_t chunk = std::max<std::size_t>(next.max_events() / 10, 1);
  const bool compacted = next.MakeRoom(next.max_events() - chunk);
  uint64_t seq = 0;
  if (next.HasRoom()) {
    seq = next.Push(std::move(event), /*as_marker=*/false);
  } else if (auto marker = next.FoldIntoMarker()) {
    // Everything held is in flight or already a marker: the new event is
    // the one dropped, and still counted.
    seq = *marker;
  } else {
    // No marker to fold into: the event becomes one, one over the bound.
    seq = next.Push(std::move(event), /*as_marker=*/true);
  }
  if (compacted) {
    if (Status s = RewriteLocked(next); !s.ok()) return s.error();
  } else {
    // One record: the new event, or the marker's new count superseding its
    // earlier record.
    if (Status s = WriteRecordsLocked({next.Find(seq)}); !s.ok()) return s.error();
  }
  queue_ = std::move(next);
  // Superseded marker records pile up while everything is in flight.
  if (!compacted) ReclaimLocked();
  return seq;
}

std::vector<OutboxRecord> JournalEventOutbox::Pending(std::size_t max) {
  std::lock_guard lock(mu_);
  const std::size_t n = queue_.HandOut(max);
  std::vector<OutboxRecord> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const OutboxQueue::Entry& e = queue_.entries()[i];
    // Fillers for lost seqs were never written; everything else goes out
    // as its record holds it.
    out.push_back(
        OutboxRecord{e.event.seq, e.payload.empty() ? SerializeEvent(e.event) : e.payload});
  }
  if (queue_.sent_through() > sent_persisted_) {
    // On disk before the events leave (see the crash points above). If it
    // cannot be written the events still go: holding them back would not
    // make the disk work again.
    Status s = WriteSeqFile(state_dir_ + "/" + kSentSeqFile, queue_.sent_through());
    if (s.ok()) {
      sent_persisted_ = queue_.sent_through();
    } else {
      GetLogger("outbox")->error("cannot persist the sent seq: {}", s.error().message);
    }
  }
  return out;
}

void JournalEventOutbox::Ack(uint64_t through) {
  std::lock_guard lock(mu_);
  if (through > queue_.sent_through()) {
    // Renumbering must be in the journal before acked_seq moves past the
    // old seqs, or a restart would skip the unsent events as acknowledged.
    OutboxQueue next = queue_;
    next.Ack(through);
    if (Status s = RewriteLocked(next); !s.ok()) {
      GetLogger("outbox")->error("{} (retried at the next acknowledgement)", s.error().message);
      return;
    }
    queue_ = std::move(next);
  } else if (queue_.Ack(through).removed == 0) {
    return;
  }
  if (Status s = WriteSeqFile(state_dir_ + "/" + kAckedSeqFile, through); !s.ok()) {
    GetLogger("outbox")->warn("cannot persist the acked seq: {}", s.error().message);
  }
  ReclaimLocked();
}

std::size_t JournalEventOutbox::size() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

uint64_t JournalEventOutbox::next_seq() const {
  std::lock_guard lock(mu_);
  return queue_.next_seq();
}

uint64_t JournalEventOutbox::journal_bytes() const {
  std::lock_guard lock(mu_);
  return end_;
}

}  // namespace mamori
