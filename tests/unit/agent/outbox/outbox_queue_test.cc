#include "agent/outbox/outbox_queue.h"

#include <gtest/gtest.h>

#include <string>

#include "outbox_test_events.h"

namespace mamori {
namespace {

using testing::Blocked;
using testing::Info;
using testing::Seqs;

// Appends the way the outboxes do, one slot freed at a time.
uint64_t Add(OutboxQueue& queue, Event event) {
  queue.MakeRoom(queue.max_events() - 1);
  if (queue.HasRoom()) return queue.Push(std::move(event), /*as_marker=*/false);
  if (auto marker = queue.FoldIntoMarker()) return *marker;
  return queue.Push(std::move(event), /*as_marker=*/true);
}

TEST(OutboxQueueTest, OverflowKeepsBlockEventsAndCountsDrops) {
  OutboxQueue outbox(/*max_events=*/5);
  Add(outbox, Info("i1"));
  Add(outbox, Blocked("b1"));
  Add(outbox, Info("i2"));
  Add(outbox, Info("i3"));
  Add(outbox, Blocked("b2"));
  // Full: each further append folds the oldest info event into a marker.
  Add(outbox, Info("i4"));
  Add(outbox, Info("i5"));
  Add(outbox, Blocked("b3"));
  EXPECT_EQ(outbox.size(), 5u);

  auto pending = outbox.Pending(100);
  ASSERT_EQ(pending.size(), 5u);
  // Contiguous seqs, so the collector's ack is not stuck on a gap.
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(pending[0].kind, EventKind::kEventsDropped);
  // i1..i4: the marker itself takes a slot, so the first overflow costs two.
  EXPECT_EQ(pending[0].detail.substr(0, 17), "4 events dropped:");
  std::vector<std::string> kept;
  for (const Event& e : pending) {
    if (e.kind != EventKind::kEventsDropped) kept.push_back(e.detail);
  }
  EXPECT_EQ(kept, (std::vector<std::string>{"b1", "b2", "i5", "b3"}));
  // The next seq follows the compacted queue.
  EXPECT_EQ(outbox.next_seq(), 6u);
}

TEST(OutboxQueueTest, EventsAlreadyHandedOutAreNeverRenumbered) {
  OutboxQueue outbox(/*max_events=*/4);
  for (int i = 1; i <= 4; ++i) Add(outbox, Info("i" + std::to_string(i)));
  auto sent = outbox.Pending(2);  // seqs 1 and 2 are on the wire
  Add(outbox, Info("i5"));
  Add(outbox, Info("i6"));
  auto pending = outbox.Pending(100);
  ASSERT_EQ(pending.size(), 4u);
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(pending[0].detail, "i1");
  EXPECT_EQ(pending[1].detail, "i2");
  EXPECT_EQ(pending[2].kind, EventKind::kEventsDropped);
  EXPECT_EQ(pending[2].detail.substr(0, 2), "3 ");  // i3, i4, i5
  EXPECT_EQ(pending[3].detail, "i6");
}

TEST(OutboxQueueTest, WhenOnlyBlockEventsRemainTheOldestUnsentIsCounted) {
  OutboxQueue outbox(/*max_events=*/3);
  for (int i = 1; i <= 5; ++i) {
    Add(outbox, Blocked("b" + std::to_string(i)));
  }
  auto pending = outbox.Pending(100);
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].kind, EventKind::kEventsDropped);
  EXPECT_EQ(pending[0].detail.substr(0, 2), "3 ");
  EXPECT_EQ(pending[1].detail, "b4");
  EXPECT_EQ(pending[2].detail, "b5");
}

TEST(OutboxQueueTest, AckBeyondWhatWasSentDoesNotDropUnsentEvents) {
  OutboxQueue outbox(10000);
  for (int i = 0; i < 3; ++i) Add(outbox, Info());
  outbox.Pending(1);  // only seq 1 sent
  // A collector that already holds seqs up to 100 (the state dir was wiped).
  outbox.Ack(100);
  auto pending = outbox.Pending(10);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{101, 102}));
  EXPECT_EQ(Add(outbox, Info()), 103u);
}

TEST(OutboxQueueTest, MakeRoomFreesDownToTheTargetAtOnce) {
  OutboxQueue outbox(/*max_events=*/10);
  for (int i = 1; i <= 10; ++i) Add(outbox, Info("i" + std::to_string(i)));
  EXPECT_FALSE(outbox.HasRoom());
  EXPECT_TRUE(outbox.MakeRoom(5));
  EXPECT_EQ(outbox.size(), 5u);
  auto pending = outbox.Pending(100);
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(pending[0].detail.substr(0, 2), "6 ");
  EXPECT_EQ(pending[4].detail, "i10");
  // Not full: nothing changes.
  EXPECT_FALSE(outbox.MakeRoom(1));
  EXPECT_EQ(outbox.size(), 5u);
}

TEST(OutboxQueueTest, RestoredEntriesCountAsHandedOut) {
  OutboxQueue outbox(/*max_events=*/3);
  std::deque<OutboxQueue::Entry> entries(3);
  for (uint64_t i = 0; i < 3; ++i) entries[i].event = Info("old");
  for (uint64_t i = 0; i < 3; ++i) entries[i].event.seq = 7 + i;
  outbox.Restore(std::move(entries), 10);
  EXPECT_EQ(outbox.sent_through(), 9u);
  // They may be at the collector, so they are never folded or renumbered.
  EXPECT_EQ(Add(outbox, Blocked("new")), 10u);
  EXPECT_EQ(Seqs(outbox.Pending(100)), (std::vector<uint64_t>{7, 8, 9, 10}));
}

}  // namespace
}  // namespace mamori
