#include "agent/outbox/event_journal.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "agent/outbox/journal_format.h"
#include "common/crypto/credentials.h"
#include "outbox_test_events.h"
#include "tests/mocks/agent_fakes.h"
#include "tests/mocks/outbox_events.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::Blocked;
using testing::Details;
using testing::FakeClock;
using testing::Info;
using testing::Seqs;
using testing::TempDir;

std::unique_ptr<JournalEventOutbox> OpenOrDie(const TempDir& dir, const Clock& clock,
                                              std::size_t max = 10000) {
  auto o = JournalEventOutbox::Open(dir.path(), clock, max);
  if (!o.ok()) {
    ADD_FAILURE() << o.error().message;
    return nullptr;
  }
  return std::move(*o);
}

std::string JournalBytes(const TempDir& dir) {
  auto bytes = ReadFileToString(dir.File(JournalEventOutbox::kJournalFile));
  EXPECT_TRUE(bytes.ok());
  return bytes.ok() ? *bytes : std::string();
}

// Offsets of the records in the journal.
std::vector<std::size_t> RecordOffsets(const std::string& bytes) {
  std::vector<std::size_t> out;
  auto parsed = ParseJournal(bytes, "journal");
  EXPECT_TRUE(parsed.ok());
  if (parsed.ok()) {
    for (const JournalRecord& r : parsed->records) out.push_back(r.offset);
  }
  return out;
}

// Appends Info("e1") .. Info("e<n>").
void AppendNumbered(JournalEventOutbox& outbox, int n) {
  for (int i = 1; i <= n; ++i) ASSERT_TRUE(outbox.Append(Info("e" + std::to_string(i))).ok());
}

// Five events in a journal whose third record has a flipped byte; returns
// where that record starts. `hand_out`: the events were given to the
// reporter first.
std::size_t FiveEventsThirdCorrupt(const TempDir& dir, const Clock& clock, bool hand_out) {
  {
    auto outbox = OpenOrDie(dir, clock);
    if (outbox == nullptr) return 0;
    AppendNumbered(*outbox, 5);
    if (hand_out) PendingEvents(*outbox, 100);
  }
  std::string bytes = JournalBytes(dir);
  const std::size_t third = RecordOffsets(bytes).at(2);
  bytes[third + 10] = static_cast<char>(bytes[third + 10] ^ 0x01);
  dir.Write(JournalEventOutbox::kJournalFile, bytes);
  return third;
}

TEST(JournalEventOutboxTest, HandsOutEachEventAsItsRecordHoldsIt) {
  TempDir dir;
  FakeClock clock;
  auto outbox = OpenOrDie(dir, clock, 3);
  ASSERT_NE(outbox, nullptr);
  AppendNumbered(*outbox, 2);
  // The bytes sent are the bytes journalled: encoded once, when recorded.
  auto parsed = ParseJournal(JournalBytes(dir), "journal");
  ASSERT_TRUE(parsed.ok());
  std::vector<OutboxRecord> pending = outbox->Pending(10);
  ASSERT_EQ(pending.size(), 2u);
  ASSERT_EQ(parsed->records.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(pending[i].seq, parsed->records[i].event.seq);
    EXPECT_EQ(pending[i].payload, parsed->records[i].payload);
  }
  // Past the bound, events fold into a counted marker: its record is
  // written again, and what goes out says the new count.
  for (int i = 3; i <= 6; ++i) ASSERT_TRUE(outbox->Append(Info("e" + std::to_string(i))).ok());
  pending = outbox->Pending(10);
  const std::vector<Event> events = DecodeRecords(pending);
  auto reparsed = ParseJournal(JournalBytes(dir), "journal");
  ASSERT_TRUE(reparsed.ok());
  for (const OutboxRecord& r : pending) {
    // The latest record of each seq is the one handed out.
    const JournalRecord* latest = nullptr;
    for (const JournalRecord& j : reparsed->records) {
      if (j.event.seq == r.seq) latest = &j;
    }
    ASSERT_NE(latest, nullptr) << r.seq;
    EXPECT_EQ(r.payload, latest->payload) << r.seq;
  }
  bool marker_seen = false;
  for (const Event& e : events) {
    if (e.kind != EventKind::kEventsDropped) continue;
    marker_seen = true;
    EXPECT_NE(e.detail.find("events dropped"), std::string::npos) << e.detail;
  }
  EXPECT_TRUE(marker_seen);
}

TEST(JournalEventOutboxTest, ReopenDeliversTheSameEventsUnderTheSameSeqs) {
  TempDir dir;
  FakeClock clock;
  std::vector<Event> before;
  {
    auto outbox = OpenOrDie(dir, clock);
    ASSERT_NE(outbox, nullptr);
    for (int i = 1; i <= 4; ++i) {
      Event e = i % 2 ? Info("i" + std::to_string(i)) : Blocked("b" + std::to_string(i));
      e.time_ms = 1000 + i;
      e.user = "alice";
      auto seq = outbox->Append(e);
      ASSERT_TRUE(seq.ok()) << seq.error().message;
      EXPECT_EQ(*seq, static_cast<uint64_t>(i));
    }
    before = PendingEvents(*outbox, 100);
    // Every append is in the file before it returns.
    EXPECT_EQ(JournalBytes(dir).size(), outbox->journal_bytes());
  }
  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  auto after = PendingEvents(*outbox, 100);
  ASSERT_EQ(Seqs(after), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(Details(after), Details(before));
  EXPECT_EQ(after[1].kind, EventKind::kDeviceBlocked);
  EXPECT_EQ(after[1].severity, Severity::kAlert);
  EXPECT_EQ(after[3].time_ms, 1004);
  EXPECT_EQ(after[3].user, "alice");
  auto seq = outbox->Append(Info());
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 5u);
}

TEST(JournalEventOutboxTest, AcknowledgedEventsAreNotRedeliveredAfterReopen) {
  TempDir dir;
  FakeClock clock;
  {
    auto outbox = OpenOrDie(dir, clock);
    ASSERT_NE(outbox, nullptr);
    AppendNumbered(*outbox, 5);
    PendingEvents(*outbox, 3);
    outbox->Ack(3);
    EXPECT_EQ(Seqs(PendingEvents(*outbox, 100)), (std::vector<uint64_t>{4, 5}));
  }
  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  auto pending = PendingEvents(*outbox, 100);
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(Details(pending), (std::vector<std::string>{"e4", "e5"}));
}

TEST(JournalEventOutboxTest, AcknowledgedRecordsAreRewrittenAwayAndNoSeqIsReused) {
  TempDir dir;
  FakeClock clock;
  const std::string big(2048, 'x');
  {
    auto outbox = OpenOrDie(dir, clock);
    ASSERT_NE(outbox, nullptr);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(outbox->Append(Info(big)).ok());
    const uint64_t full = outbox->journal_bytes();
    EXPECT_GT(full, JournalEventOutbox::kMinReclaimBytes);
    PendingEvents(*outbox, 100);
    outbox->Ack(38);
    // Acknowledged records made up most of the file: only 39 and 40 remain.
    EXPECT_LT(outbox->journal_bytes(), full / 10);
    EXPECT_EQ(JournalBytes(dir).size(), outbox->journal_bytes());
    outbox->Ack(40);
  }
  // Even without the counter files, the rewritten journal's header keeps
  // seqs 1..40 from being issued again.
  std::filesystem::remove(dir.File(JournalEventOutbox::kAckedSeqFile));
  std::filesystem::remove(dir.File(JournalEventOutbox::kSentSeqFile));
  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  auto pending = PendingEvents(*outbox, 100);
  // 39 and 40 were acknowledged after the rewrite; with acked_seq gone they
  // come again, and the collector ignores them as duplicates.
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{39, 40}));
  auto seq = outbox->Append(Info());
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 41u);
}

TEST(JournalEventOutboxTest, TruncatedTailAtEveryOffsetRecoversToThePreviousRecord) {
  FakeClock clock;
  std::string full;
  {
    TempDir dir;
    auto outbox = OpenOrDie(dir, clock);
    ASSERT_NE(outbox, nullptr);
    AppendNumbered(*outbox, 3);
    outbox.reset();
    full = JournalBytes(dir);
  }
  const std::size_t last = RecordOffsets(full).at(2);
  for (std::size_t cut = last + 1; cut < full.size(); ++cut) {
    TempDir dir;
    dir.Write(JournalEventOutbox::kJournalFile, full.substr(0, cut));
    auto outbox = OpenOrDie(dir, clock);
    ASSERT_NE(outbox, nullptr) << cut;
    auto pending = PendingEvents(*outbox, 100);
    // The cut record was never acknowledged to its appender, so its seq is
    // free: the report takes it.
    ASSERT_EQ(Seqs(pending), (std::vector<uint64_t>{1, 2, 3})) << cut;
    EXPECT_EQ(pending[1].detail, "e2");
    EXPECT_EQ(pending[2].kind, EventKind::kEventsDropped);
    EXPECT_EQ(pending[2].severity, Severity::kWarning);
    EXPECT_NE(pending[2].detail.find("journal recovered: " + std::to_string(cut - last) +
                                     " bytes of a damaged tail discarded at offset " +
                                     std::to_string(last)),
              std::string::npos)
        << pending[2].detail;
    // The damage is gone from the file: a second start reports nothing new.
    outbox.reset();
    auto again = OpenOrDie(dir, clock);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(Seqs(PendingEvents(*again, 100)), (std::vector<uint64_t>{1, 2, 3})) << cut;
  }
}

TEST(JournalEventOutboxTest, FlippedByteInAMiddleRecordRecoversToTheRecordBeforeIt) {
  TempDir dir;
  FakeClock clock;
  const std::size_t third = FiveEventsThirdCorrupt(dir, clock, /*hand_out=*/false);

  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  auto pending = PendingEvents(*outbox, 100);
  ASSERT_EQ(Seqs(pending), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(pending[1].detail, "e2");
  EXPECT_EQ(pending[2].kind, EventKind::kEventsDropped);
  EXPECT_NE(pending[2].detail.find("discarded at offset " + std::to_string(third)),
            std::string::npos)
      << pending[2].detail;
  EXPECT_NE(pending[2].detail.find("checksum mismatch"), std::string::npos) << pending[2].detail;
}

TEST(JournalEventOutboxTest, LostRecordsThatMayHaveBeenSentAreFilledNotReused) {
  TempDir dir;
  FakeClock clock;
  // 1..5 may be at the collector.
  FiveEventsThirdCorrupt(dir, clock, /*hand_out=*/true);

  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  auto pending = PendingEvents(*outbox, 100);
  // 3..5 are lost: fillers keep the collector's ack moving (it ignores them
  // where it holds the originals), and the report comes after them.
  ASSERT_EQ(Seqs(pending), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  for (int i = 2; i < 5; ++i) {
    EXPECT_EQ(pending[i].kind, EventKind::kEventsDropped);
    EXPECT_EQ(pending[i].detail.substr(0, 2), "1 ");
  }
  EXPECT_NE(pending[5].detail.find("journal recovered"), std::string::npos);
}

TEST(JournalEventOutboxTest, GarbageHeaderIsAClearErrorNamingTheFile) {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.Write(JournalEventOutbox::kJournalFile, "not a journal at all, no");
  auto outbox = JournalEventOutbox::Open(dir.path(), clock);
  ASSERT_FALSE(outbox.ok());
  EXPECT_NE(outbox.error().message.find(path), std::string::npos) << outbox.error().message;
  EXPECT_NE(outbox.error().message.find("not a Mamori event journal"), std::string::npos);
  // The file is left as it was for someone to look at.
  EXPECT_EQ(JournalBytes(dir), "not a journal at all, no");
}

TEST(JournalEventOutboxTest, MissingStateDirFailsTheOpen) {
  FakeClock clock;
  EXPECT_FALSE(JournalEventOutbox::Open("/nonexistent/mamori-state", clock).ok());
}

TEST(JournalEventOutboxTest, LeftoverTempFileOfAnInterruptedRewriteIsRemoved) {
  TempDir dir;
  FakeClock clock;
  const std::string tmp =
      dir.Write(std::string(JournalEventOutbox::kJournalFile) + ".tmp.abc123", "half a rewrite");
  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  EXPECT_FALSE(std::filesystem::exists(tmp));
}

TEST(JournalEventOutboxTest, UpgradeFromTheInMemoryOutboxReusesNoSeq) {
  TempDir dir;
  FakeClock clock;
  // What an earlier, in-memory agent left: seqs up to 5 issued, 1..2 acknowledged.
  dir.Write(JournalEventOutbox::kLegacyNextSeqFile, "6\n");
  dir.Write(JournalEventOutbox::kAckedSeqFile, "2\n");
  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  auto seq = outbox->Append(Info("new"));
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 6u);
  auto pending = PendingEvents(*outbox, 100);
  ASSERT_EQ(Seqs(pending), (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(pending[0].kind, EventKind::kEventsDropped);
}

TEST(JournalEventOutboxTest, CorruptSentSeqRefusesToOpen) {
  TempDir dir;
  FakeClock clock;
  dir.Write(JournalEventOutbox::kSentSeqFile, "twelve\n");
  auto outbox = JournalEventOutbox::Open(dir.path(), clock);
  ASSERT_FALSE(outbox.ok());
  EXPECT_NE(outbox.error().message.find("sent_seq"), std::string::npos);
}

TEST(JournalEventOutboxTest, CompactionIsWhatTheJournalHolds) {
  TempDir dir;
  FakeClock clock;
  auto outbox = OpenOrDie(dir, clock, /*max=*/5);
  ASSERT_NE(outbox, nullptr);
  for (const Event& e : {Info("i1"), Blocked("b1"), Info("i2"), Info("i3"), Blocked("b2"),
                         Info("i4"), Info("i5"), Blocked("b3")}) {
    ASSERT_TRUE(outbox->Append(e).ok());
  }
  // The policy itself is OutboxQueue's (outbox_queue_test.cc).
  const std::vector<Event> before = PendingEvents(*outbox, 100);
  ASSERT_EQ(Seqs(before), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(before[0].detail.substr(0, 17), "4 events dropped:");
  outbox.reset();
  auto reopened = OpenOrDie(dir, clock, 5);
  ASSERT_NE(reopened, nullptr);
  const std::vector<Event> after = PendingEvents(*reopened, 100);
  EXPECT_EQ(Seqs(after), Seqs(before));
  EXPECT_EQ(Details(after), Details(before));
  EXPECT_EQ(reopened->next_seq(), 6u);
}

TEST(JournalEventOutboxTest, OverflowFreesAChunkAtOnceAndNeverDropsABlockEvent) {
  TempDir dir;
  FakeClock clock;
  auto outbox = OpenOrDie(dir, clock, /*max=*/100);
  ASSERT_NE(outbox, nullptr);
  int blocked = 0;
  bool freed_a_chunk = false;
  for (int i = 0; i < 300; ++i) {
    const bool block = i % 7 == 0;
    blocked += block ? 1 : 0;
    ASSERT_TRUE(outbox->Append(block ? Blocked("b" + std::to_string(i)) : Info()).ok());
    EXPECT_LE(outbox->size(), 100u);
    // A tenth of the bound is freed per compaction, so the journal is not
    // rewritten after every append once full.
    if (i >= 100 && outbox->size() <= 91) freed_a_chunk = true;
  }
  EXPECT_TRUE(freed_a_chunk);
  outbox.reset();
  auto reopened = OpenOrDie(dir, clock, 100);
  ASSERT_NE(reopened, nullptr);
  auto pending = PendingEvents(*reopened, 1000);
  int kept_blocked = 0;
  std::size_t markers = 0;
  uint64_t dropped = 0;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    EXPECT_EQ(pending[i].seq, i + 1);
    if (pending[i].kind == EventKind::kDeviceBlocked) ++kept_blocked;
    if (pending[i].kind == EventKind::kEventsDropped) {
      ++markers;
      dropped += std::stoull(pending[i].detail.substr(0, pending[i].detail.find(' ')));
    }
  }
  EXPECT_EQ(kept_blocked, blocked);
  EXPECT_EQ(markers, 1u);
  // Never silent: every event is either delivered or counted.
  EXPECT_EQ(dropped + pending.size() - markers, 300u);
}

TEST(JournalEventOutboxTest, WhenEverythingIsInFlightTheMarkerCountSurvivesAReopen) {
  TempDir dir;
  FakeClock clock;
  {
    auto outbox = OpenOrDie(dir, clock, /*max=*/3);
    ASSERT_NE(outbox, nullptr);
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(outbox->Append(Blocked()).ok());
    PendingEvents(*outbox, 100);  // all three on the wire
    // The first becomes a marker one over the bound; the next two are
    // counted in it, each recorded by a record that supersedes the last.
    for (int i = 0; i < 3; ++i) {
      auto seq = outbox->Append(Blocked());
      ASSERT_TRUE(seq.ok());
      EXPECT_EQ(*seq, 4u);
    }
  }
  auto outbox = OpenOrDie(dir, clock, 3);
  ASSERT_NE(outbox, nullptr);
  auto pending = PendingEvents(*outbox, 100);
  ASSERT_EQ(Seqs(pending), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(pending[3].kind, EventKind::kEventsDropped);
  EXPECT_EQ(pending[3].detail.substr(0, 17), "3 events dropped:");
}

TEST(JournalEventOutboxTest, AckBeyondWhatWasSentRenumbersDurably) {
  TempDir dir;
  FakeClock clock;
  {
    auto outbox = OpenOrDie(dir, clock);
    ASSERT_NE(outbox, nullptr);
    AppendNumbered(*outbox, 3);
    PendingEvents(*outbox, 1);  // only seq 1 sent
    // A collector that already holds seqs up to 100 (the state dir was wiped).
    outbox->Ack(100);
    EXPECT_EQ(Seqs(PendingEvents(*outbox, 10)), (std::vector<uint64_t>{101, 102}));
    auto seq = outbox->Append(Info("e4"));
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, 103u);
  }
  auto outbox = OpenOrDie(dir, clock);
  ASSERT_NE(outbox, nullptr);
  auto pending = PendingEvents(*outbox, 10);
  EXPECT_EQ(Seqs(pending), (std::vector<uint64_t>{101, 102, 103}));
  EXPECT_EQ(Details(pending), (std::vector<std::string>{"e2", "e3", "e4"}));
}

// --- kill -9 -------------------------------------------------------------

// Child: appends forever, writing "R <seq> <n>" to `fd` after Append
// returned for event n; every 25 events acknowledges all but the last ten
// handed out, writing "a <seq>" before and "A <seq>" after the Ack.
[[noreturn]] void AppendForever(const std::string& dir, int fd) {
  FakeClock clock;
  auto outbox = JournalEventOutbox::Open(dir, clock);
  if (!outbox.ok()) _exit(2);
  auto say = [fd](const std::string& line) {
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
  };
  for (uint64_t n = 1;; ++n) {
    // Sizes vary so that records straddle pages and rewrites happen.
    Event e = Info("n" + std::to_string(n) + " " + std::string(100 + (n * 37) % 3000, 'x'));
    auto seq = (*outbox)->Append(std::move(e));
    if (!seq.ok()) _exit(3);
    say("R " + std::to_string(*seq) + " " + std::to_string(n) + "\n");
    if (n % 25 == 0) {
      auto pending = PendingEvents(**outbox, 500);
      if (pending.size() > 10) {
        const uint64_t through = pending[pending.size() - 11].seq;
        say("a " + std::to_string(through) + "\n");
        (*outbox)->Ack(through);
        say("A " + std::to_string(through) + "\n");
      }
    }
  }
}

TEST(JournalEventOutboxFaultTest, KilledMidAppendLosesAndDuplicatesNothing) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    TempDir dir;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      AppendForever(dir.path(), fds[1]);
    }
    ::close(fds[1]);
    // Read while the child runs (a full pipe would stall it), then kill it
    // at a random moment.
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(std::uniform_int_distribution<>(20, 300)(rng));
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 5) > 0) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
      }
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);

    std::map<uint64_t, uint64_t> recorded;  // seq -> n
    uint64_t acked_done = 0;
    uint64_t acked_tried = 0;
    std::istringstream lines(out);
    std::string tag;
    for (uint64_t a, b; lines >> tag;) {
      if (tag == "R" && lines >> a >> b) {
        EXPECT_FALSE(recorded.contains(a)) << "seq " << a << " returned twice";
        recorded[a] = b;
      } else if (tag == "a" && lines >> a) {
        acked_tried = a;
      } else if (tag == "A" && lines >> a) {
        acked_done = a;
      }
    }
    ASSERT_FALSE(recorded.empty()) << "the child recorded nothing";

    FakeClock clock;
    auto outbox = OpenOrDie(dir, clock);
    ASSERT_NE(outbox, nullptr);
    const std::vector<Event> pending = PendingEvents(*outbox, 100000);
    ASSERT_FALSE(pending.empty());
    // Acknowledged events stay acknowledged.
    EXPECT_GT(pending.front().seq, acked_done);
    EXPECT_LE(pending.front().seq, acked_tried + 1);
    for (std::size_t i = 1; i < pending.size(); ++i) {
      ASSERT_EQ(pending[i].seq, pending[i - 1].seq + 1) << "gap or duplicate";
    }
    // Every event recorded and not acknowledged is there, as recorded.
    for (const auto& [seq, n] : recorded) {
      if (seq < pending.front().seq) continue;
      ASSERT_LE(seq, pending.back().seq) << "recorded event lost";
      const Event& e = pending[seq - pending.front().seq];
      EXPECT_EQ(e.detail.substr(0, e.detail.find(' ')), "n" + std::to_string(n));
    }
    // Beyond what the child saw recorded: at most the append the kill
    // interrupted, and a report if it left a torn record.
    for (const Event& e : pending) {
      if (e.seq <= recorded.rbegin()->first) continue;
      const bool report = e.detail.find("journal recovered") != std::string::npos;
      EXPECT_TRUE(report || e.seq == recorded.rbegin()->first + 1) << e.seq << " " << e.detail;
    }
  }
}

}  // namespace
}  // namespace mamori
