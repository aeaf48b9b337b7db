#include "agent/core/event_outbox.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <string_view>
#include <utility>

#include "common/credentials.h"
#include "common/logging.h"

namespace mamori {
namespace {

// Reads a counter file: nullopt when absent, an error when unreadable or not
// a number (a corrupt next_seq must stop the agent: guessing could reuse a
// seq the collector already holds and silently lose an event).
Result<std::optional<uint64_t>> ReadCounter(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return MakeError(ErrorCode::kIo, path + ": " + ec.message());
    return std::optional<uint64_t>();
  }
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.error();
  std::string_view s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.remove_suffix(1);
  }
  uint64_t v = 0;
  auto [ptr, parse_ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || parse_ec != std::errc() || ptr != s.data() + s.size()) {
    return MakeError(
        ErrorCode::kFailedPrecondition,
        path + ": expected a decimal counter, found '" + std::string(s.substr(0, 32)) + "'");
  }
  return std::optional<uint64_t>(v);
}

bool IsProtected(const Event& e) {
  return e.kind == EventKind::kDeviceBlocked || e.severity == Severity::kAlert;
}

}  // namespace

InMemoryEventOutbox::InMemoryEventOutbox(std::string state_dir, const Clock& clock,
                                         std::size_t max_events)
    : state_dir_(std::move(state_dir)),
      clock_(clock),
      max_events_(std::max<std::size_t>(max_events, 2)) {}

Result<std::unique_ptr<InMemoryEventOutbox>> InMemoryEventOutbox::Open(const std::string& state_dir,
                                                                       const Clock& clock,
                                                                       std::size_t max_events) {
  const std::string next_path = state_dir + "/" + kNextSeqFile;
  const std::string acked_path = state_dir + "/" + kAckedSeqFile;
  auto next = ReadCounter(next_path);
  if (!next.ok()) return next.error();
  // A stale or damaged acked_seq only costs filler events the collector
  // ignores, so it never blocks the start.
  auto acked = ReadCounter(acked_path);
  uint64_t acked_through = 0;
  if (acked.ok() && acked->has_value()) {
    acked_through = **acked;
  } else if (!acked.ok()) {
    GetLogger("outbox")->warn("{} (assuming nothing was acknowledged)", acked.error().message);
  }

  std::unique_ptr<InMemoryEventOutbox> outbox(
      new InMemoryEventOutbox(state_dir, clock, max_events));
  uint64_t next_seq = next->value_or(1);
  if (next_seq == 0) next_seq = 1;
  if (acked_through >= next_seq) next_seq = acked_through + 1;

  // Seqs in (acked_through, next_seq) belonged to events of the previous run
  // that may or may not have reached the collector.
  const uint64_t lost = next_seq - 1 - acked_through;
  uint64_t fill_from = acked_through + 1;
  if (lost > outbox->max_events_) {
    GetLogger("outbox")->error(
        "{} events of the previous run were unacknowledged, more than the outbox holds "
        "({}); seqs {}..{} stay unfilled",
        lost, outbox->max_events_, fill_from, next_seq - 1 - outbox->max_events_);
    fill_from = next_seq - outbox->max_events_;
  }
  const int64_t now = clock.NowMs();
  for (uint64_t seq = fill_from; seq < next_seq; ++seq) {
    Entry e;
    e.event.seq = seq;
    e.event.time_ms = now;
    e.event.kind = EventKind::kEventsDropped;
    e.event.severity = Severity::kWarning;
    e.event.detail = "1 event dropped: the agent restarted before the collector acknowledged it";
    outbox->entries_.push_back(std::move(e));
  }
  if (lost > 0) {
    GetLogger("outbox")->warn("{} events of the previous run were not acknowledged", lost);
  }
  outbox->next_seq_ = next_seq;
  outbox->sent_through_ = next_seq - 1;
  if (Status s = outbox->PersistNextSeqLocked(next_seq); !s.ok()) return s.error();
  return outbox;
}

Status InMemoryEventOutbox::PersistNextSeqLocked(uint64_t next) const {
  return WriteFileAtomic(state_dir_ + "/" + kNextSeqFile, std::to_string(next) + "\n", 0600);
}

std::size_t InMemoryEventOutbox::FirstUnsentLocked() const {
  if (entries_.empty() || entries_.front().event.seq > sent_through_) return 0;
  const uint64_t offset = sent_through_ - entries_.front().event.seq + 1;
  return static_cast<std::size_t>(std::min<uint64_t>(offset, entries_.size()));
}

std::size_t InMemoryEventOutbox::UnsentMarkerLocked() const {
  for (std::size_t i = FirstUnsentLocked(); i < entries_.size(); ++i) {
    if (entries_[i].dropped > 0) return i;
  }
  return entries_.size();
}

void InMemoryEventOutbox::SetMarkerDetailLocked(Entry& marker) const {
  marker.event.detail = std::to_string(marker.dropped) +
                        " events dropped: the outbox was full (limit " +
                        std::to_string(max_events_) + ")";
}

void InMemoryEventOutbox::RenumberLocked(std::size_t index, uint64_t first) {
  for (std::size_t i = index; i < entries_.size(); ++i) entries_[i].event.seq = first++;
  next_seq_ = first;
}

std::size_t InMemoryEventOutbox::VictimLocked() const {
  const std::size_t unsent = FirstUnsentLocked();
  // Oldest unprotected event first; block and alert events only when
  // nothing else is left, because they are the evidence auditors ask for.
  for (std::size_t i = unsent; i < entries_.size(); ++i) {
    if (entries_[i].dropped == 0 && !IsProtected(entries_[i].event)) return i;
  }
  for (std::size_t i = unsent; i < entries_.size(); ++i) {
    if (entries_[i].dropped == 0) return i;
  }
  return entries_.size();
}

bool InMemoryEventOutbox::CompactOneLocked() {
  for (;;) {
    const std::size_t victim = VictimLocked();
    if (victim == entries_.size()) return false;
    const std::size_t marker = UnsentMarkerLocked();
    if (marker == entries_.size()) {
      // The victim's slot becomes the marker (no seq moves); the next
      // victim is then folded into it to free a slot.
      Entry& m = entries_[victim];
      m.dropped = 1;
      m.event.kind = EventKind::kEventsDropped;
      m.event.severity = Severity::kWarning;
      m.event.device.reset();
      m.event.user.clear();
      SetMarkerDetailLocked(m);
      continue;
    }
    entries_[marker].dropped += 1;
    SetMarkerDetailLocked(entries_[marker]);
    const uint64_t victim_seq = entries_[victim].event.seq;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(victim));
    // Only never-sent entries follow the victim, so their seqs are free to
    // move.
    RenumberLocked(victim, victim_seq);
    return true;
  }
}

Result<uint64_t> InMemoryEventOutbox::Append(Event event) {
  std::lock_guard lock(mu_);
  uint64_t dropped = 0;
  if (entries_.size() >= max_events_ && !CompactOneLocked()) {
    // Everything held is in flight or already a marker: the new event is
    // the one dropped, and still counted.
    const std::size_t marker = UnsentMarkerLocked();
    if (marker != entries_.size()) {
      entries_[marker].dropped += 1;
      SetMarkerDetailLocked(entries_[marker]);
      return entries_[marker].event.seq;
    }
    // No marker to fold into: the event becomes one, one over the bound.
    event.kind = EventKind::kEventsDropped;
    event.severity = Severity::kWarning;
    event.device.reset();
    event.user.clear();
    dropped = 1;
  }
  const uint64_t seq = next_seq_;
  // The seq is on disk before the event counts as recorded, so a restart
  // can never hand the same seq to a different event.
  if (Status s = PersistNextSeqLocked(seq + 1); !s.ok()) return s.error();
  event.seq = seq;
  entries_.push_back(Entry{std::move(event), dropped});
  if (dropped > 0) SetMarkerDetailLocked(entries_.back());
  next_seq_ = seq + 1;
  return seq;
}

std::vector<Event> InMemoryEventOutbox::Pending(std::size_t max) {
  std::lock_guard lock(mu_);
  std::vector<Event> out;
  const std::size_t n = std::min(max, entries_.size());
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(entries_[i].event);
  if (!out.empty()) sent_through_ = std::max(sent_through_, out.back().seq);
  return out;
}

void InMemoryEventOutbox::Ack(uint64_t through) {
  std::lock_guard lock(mu_);
  bool popped = false;
  // Never discards what was not sent, whatever the collector claims.
  const uint64_t drop_through = std::min(through, sent_through_);
  while (!entries_.empty() && entries_.front().event.seq <= drop_through) {
    entries_.pop_front();
    popped = true;
  }
  if (through > sent_through_) {
    // The collector holds seqs this agent never sent: its state directory
    // was reset or another terminal shares its certificate. Move the unsent
    // events past the collector's seqs so they are not discarded as
    // duplicates.
    GetLogger("outbox")->error(
        "collector acknowledged seq {} but only {} were sent; renumbering unsent events "
        "(was the state directory reset?)",
        through, sent_through_);
    sent_through_ = through;
    RenumberLocked(0, through + 1);
    popped = true;
    if (Status s = PersistNextSeqLocked(next_seq_); !s.ok()) {
      GetLogger("outbox")->error("cannot persist next seq: {}", s.error().message);
    }
  }
  if (popped) {
    // Best effort: a stale value only produces fillers after a restart.
    Status s =
        WriteFileAtomic(state_dir_ + "/" + kAckedSeqFile, std::to_string(through) + "\n", 0600);
    if (!s.ok()) GetLogger("outbox")->warn("cannot persist acked seq: {}", s.error().message);
  }
}

std::size_t InMemoryEventOutbox::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

uint64_t InMemoryEventOutbox::next_seq() const {
  std::lock_guard lock(mu_);
  return next_seq_;
}

}  // namespace mamori
