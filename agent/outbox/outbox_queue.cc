#include "agent/outbox/outbox_queue.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/base/logging.h"

namespace mamori {
namespace {

bool IsProtected(const Event& e) {
  return e.kind == EventKind::kDeviceBlocked || e.severity == Severity::kAlert;
}

void MakeMarker(Event& e) {
  e.kind = EventKind::kEventsDropped;
  e.severity = Severity::kWarning;
  e.device.reset();
  e.user.clear();
}

}  // namespace

OutboxQueue::OutboxQueue(std::size_t max_events)
    : max_events_(std::max<std::size_t>(max_events, 2)) {}

void OutboxQueue::Restore(std::deque<Entry> entries, uint64_t next_seq) {
  entries_ = std::move(entries);
  next_seq_ = std::max<uint64_t>(next_seq, 1);
  sent_through_ = next_seq_ - 1;
}

OutboxQueue::Entry* OutboxQueue::Find(uint64_t seq) {
  if (entries_.empty() || seq < entries_.front().event.seq) return nullptr;
  const uint64_t index = seq - entries_.front().event.seq;
  if (index >= entries_.size()) return nullptr;
  return &entries_[static_cast<std::size_t>(index)];
}

std::size_t OutboxQueue::FirstUnsent() const {
  if (entries_.empty() || entries_.front().event.seq > sent_through_) return 0;
  const uint64_t offset = sent_through_ - entries_.front().event.seq + 1;
  return static_cast<std::size_t>(std::min<uint64_t>(offset, entries_.size()));
}

std::size_t OutboxQueue::UnsentMarker() const {
  for (std::size_t i = FirstUnsent(); i < entries_.size(); ++i) {
    if (entries_[i].dropped > 0) return i;
  }
  return entries_.size();
}

void OutboxQueue::SetMarkerDetail(Entry& marker) const {
  marker.event.detail = std::to_string(marker.dropped) +
                        " events dropped: the outbox was full (limit " +
                        std::to_string(max_events_) + ")";
  marker.payload.clear();  // encoded again when next written
}

void OutboxQueue::Renumber(std::size_t index, uint64_t first) {
  for (std::size_t i = index; i < entries_.size(); ++i) {
    entries_[i].event.seq = first++;
    entries_[i].payload.clear();  // encoded again when next written
  }
  next_seq_ = first;
}

std::size_t OutboxQueue::Victim() const {
  const std::size_t unsent = FirstUnsent();
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

bool OutboxQueue::CompactOne(bool& changed) {
  for (;;) {
    const std::size_t victim = Victim();
    if (victim == entries_.size()) return false;
    changed = true;
    const std::size_t marker = UnsentMarker();
    if (marker == entries_.size()) {
      // The victim's slot becomes the marker (no seq moves); the next
      // victim is then folded into it to free a slot.
      Entry& m = entries_[victim];
      m.dropped = 1;
      MakeMarker(m.event);
      SetMarkerDetail(m);
      continue;
    }
    entries_[marker].dropped += 1;
    SetMarkerDetail(entries_[marker]);
    const uint64_t victim_seq = entries_[victim].event.seq;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(victim));
    // Only never-sent entries follow the victim, so their seqs are free to
    // move.
    Renumber(victim, victim_seq);
    return true;
  }
}

bool OutboxQueue::MakeRoom(std::size_t target) {
  bool changed = false;
  if (HasRoom()) return changed;
  target = std::min(target, max_events_ - 1);
  while (entries_.size() > target && CompactOne(changed)) {
  }
  return changed;
}

std::optional<uint64_t> OutboxQueue::FoldIntoMarker() {
  const std::size_t marker = UnsentMarker();
  if (marker == entries_.size()) return std::nullopt;
  entries_[marker].dropped += 1;
  SetMarkerDetail(entries_[marker]);
  return entries_[marker].event.seq;
}

uint64_t OutboxQueue::Push(Event event, bool as_marker, std::size_t record_bytes,
                           std::string payload) {
  const uint64_t seq = next_seq_++;
  event.seq = seq;
  if (as_marker) MakeMarker(event);
  entries_.push_back(
      Entry{std::move(event), as_marker ? 1u : 0u, record_bytes, std::move(payload)});
  if (as_marker) SetMarkerDetail(entries_.back());
  return seq;
}

std::size_t OutboxQueue::HandOut(std::size_t max) {
  const std::size_t n = std::min(max, entries_.size());
  if (n > 0) sent_through_ = std::max(sent_through_, entries_[n - 1].event.seq);
  return n;
}

std::vector<Event> OutboxQueue::Pending(std::size_t max) {
  const std::size_t n = HandOut(max);
  std::vector<Event> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(entries_[i].event);
  return out;
}

OutboxQueue::AckResult OutboxQueue::Ack(uint64_t through) {
  AckResult result;
  // Never discards what was not sent, whatever the collector claims.
  const uint64_t drop_through = std::min(through, sent_through_);
  while (!entries_.empty() && entries_.front().event.seq <= drop_through) {
    entries_.pop_front();
    ++result.removed;
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
    Renumber(0, through + 1);
    result.renumbered = true;
  }
  return result;
}

}  // namespace mamori
