#include "agent/core/event_outbox.h"

#include <gtest/gtest.h>

#include <string>

#include "agent_fakes.h"
#include "common/credentials.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::FakeClock;
using testing::TempDir;

Event Info(std::string detail = "") {
  Event e;
  e.kind = EventKind::kDeviceAllowed;
  e.severity = Severity::kInfo;
  e.detail = std::move(detail);
  return e;
}

Event Blocked(std::string detail = "") {
  Event e;
  e.kind = EventKind::kDeviceBlocked;
  e.severity = Severity::kAlert;
  e.detail = std::move(detail);
  return e;
}

std::unique_ptr<InMemoryEventOutbox> OpenOrDie(const TempDir& dir, const Clock& clock,
                                               std::size_t max = 10000) {
  auto o = InMemoryEventOutbox::Open(dir.path(), clock, max);
  if (!o.ok()) {
    ADD_FAILURE() << o.error().message;
    return nullptr;
  }
  return std::move(*o);
}

std::vector<uint64_t> Seqs(const std::vector<Event>& events) {
  std::vector<uint64_t> out;
  for (const Event& e : events) out.push_back(e.seq);
  return out;
}

TEST(EventOutboxTest, AssignsMonotonicSeqsAndReturnsPendingInOrder) {
  TempDir dir;
  FakeClock clock;
  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  for (int i = 0; i < 5; ++i) {
    auto seq = outbox->Append(Info(std::to_string(i)));
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, static_cast<uint64_t>(i + 1));
  }
  auto pending = outbox->Pending(3);
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(pending[2].detail, "2");
  outbox->Ack(2);
  EXPECT_EQ(Seqs(outbox->Pending(10)), (std::vector<uint64_t>{3, 4, 5}));
}

TEST(EventOutboxTest, NextSeqIsPersistedBeforeAppendReturns) {
  TempDir dir;
  FakeClock clock;
  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  ASSERT_TRUE(outbox->Append(Info()).ok());
  ASSERT_TRUE(outbox->Append(Info()).ok());
  auto text = ReadFileToString(dir.File("next_seq"));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "3\n");
}

TEST(EventOutboxTest, RestartNeverReusesASeq) {
  TempDir dir;
  FakeClock clock;
  {
    auto first = OpenOrDie(dir, clock);
    ASSERT_NE(first, nullptr);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(first->Append(Info()).ok());
    first->Pending(10);
    first->Ack(4);
  }
  auto second = OpenOrDie(dir, clock);
  ASSERT_NE(second, nullptr);
  auto seq = second->Append(Info());
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 5u);
}

TEST(EventOutboxTest, UnackedSeqsOfThePreviousRunAreFilledWithDroppedEvents) {
  TempDir dir;
  FakeClock clock;
  {
    auto first = OpenOrDie(dir, clock);
    ASSERT_NE(first, nullptr);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(first->Append(Info()).ok());
    first->Pending(10);
    first->Ack(2);  // 3..5 are lost with the process
  }
  auto second = OpenOrDie(dir, clock);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->Append(Info("after restart")).ok());
  auto pending = second->Pending(10);
  // No gap: the collector's contiguous ack can move past the lost events.
  ASSERT_EQ(Seqs(pending), (std::vector<uint64_t>{3, 4, 5, 6}));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(pending[i].kind, EventKind::kEventsDropped);
    EXPECT_EQ(pending[i].detail.substr(0, 2), "1 ");
  }
  EXPECT_EQ(pending[3].detail, "after restart");
}

TEST(EventOutboxTest, CorruptNextSeqRefusesToOpen) {
  TempDir dir;
  FakeClock clock;
  dir.Write("next_seq", "twelve\n");
  auto outbox = InMemoryEventOutbox::Open(dir.path(), clock);
  ASSERT_FALSE(outbox.ok());
  EXPECT_NE(outbox.error().message.find("next_seq"), std::string::npos);
}

TEST(EventOutboxTest, UnwritableStateDirFailsTheAppend) {
  FakeClock clock;
  auto outbox = InMemoryEventOutbox::Open("/nonexistent/mamori-state", clock);
  EXPECT_FALSE(outbox.ok());
}

TEST(EventOutboxTest, OverflowKeepsBlockEventsAndCountsDrops) {
  TempDir dir;
  FakeClock clock;
  auto outbox = OpenOrDie(dir, clock, /*max=*/5);
  ASSERT_NE(outbox, nullptr);
  ASSERT_TRUE(outbox->Append(Info("i1")).ok());
  ASSERT_TRUE(outbox->Append(Blocked("b1")).ok());
  ASSERT_TRUE(outbox->Append(Info("i2")).ok());
  ASSERT_TRUE(outbox->Append(Info("i3")).ok());
  ASSERT_TRUE(outbox->Append(Blocked("b2")).ok());
  // Full: each further append folds the oldest info event into a marker.
  ASSERT_TRUE(outbox->Append(Info("i4")).ok());
  ASSERT_TRUE(outbox->Append(Info("i5")).ok());
  ASSERT_TRUE(outbox->Append(Blocked("b3")).ok());
  EXPECT_EQ(outbox->size(), 5u);

  auto pending = outbox->Pending(100);
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
  EXPECT_EQ(outbox->next_seq(), 6u);
}

TEST(EventOutboxTest, EventsAlreadyHandedOutAreNeverRenumbered) {
  TempDir dir;
  FakeClock clock;
  auto outbox = OpenOrDie(dir, clock, /*max=*/4);
  ASSERT_NE(outbox, nullptr);
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(outbox->Append(Info("i" + std::to_string(i))).ok());
  auto sent = outbox->Pending(2);  // seqs 1 and 2 are on the wire
  ASSERT_TRUE(outbox->Append(Info("i5")).ok());
  ASSERT_TRUE(outbox->Append(Info("i6")).ok());
  auto pending = outbox->Pending(100);
  ASSERT_EQ(pending.size(), 4u);
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(pending[0].detail, "i1");
  EXPECT_EQ(pending[1].detail, "i2");
  EXPECT_EQ(pending[2].kind, EventKind::kEventsDropped);
  EXPECT_EQ(pending[2].detail.substr(0, 2), "3 ");  // i3, i4, i5
  EXPECT_EQ(pending[3].detail, "i6");
}

TEST(EventOutboxTest, WhenOnlyBlockEventsRemainTheOldestUnsentIsCounted) {
  TempDir dir;
  FakeClock clock;
  auto outbox = OpenOrDie(dir, clock, /*max=*/3);
  ASSERT_NE(outbox, nullptr);
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(outbox->Append(Blocked("b" + std::to_string(i))).ok());
  }
  auto pending = outbox->Pending(100);
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].kind, EventKind::kEventsDropped);
  EXPECT_EQ(pending[0].detail.substr(0, 2), "3 ");
  EXPECT_EQ(pending[1].detail, "b4");
  EXPECT_EQ(pending[2].detail, "b5");
}

TEST(EventOutboxTest, AckBeyondWhatWasSentDoesNotDropUnsentEvents) {
  TempDir dir;
  FakeClock clock;
  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(outbox->Append(Info()).ok());
  outbox->Pending(1);  // only seq 1 sent
  // A collector that already holds seqs up to 100 (the state dir was wiped).
  outbox->Ack(100);
  auto pending = outbox->Pending(10);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{101, 102}));
  auto seq = outbox->Append(Info());
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 103u);
}

}  // namespace
}  // namespace mamori
