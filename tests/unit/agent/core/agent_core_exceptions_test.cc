// Time-limited exceptions in the agent: the window by the agent's clock,
// the clock bound, replug, persistence and the worker's own timer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "agent/core/agent_core.h"
#include "agent/outbox/event_journal.h"
#include "agent/storage/file_policy_cache.h"
#include "tests/mocks/agent_fakes.h"
#include "tests/mocks/outbox_events.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::FakeBackend;
using testing::FakeClock;
using ::testing::HasSubstr;
using testing::MemoryExceptionStore;
using testing::SignedUpdate;
using testing::Stick;
using testing::TempDir;
using testing::TestPolicyVerifier;

constexpr std::string_view kTerminal = "t-0042";
constexpr std::string_view kSerial = "4C530001231120115142";
// The fake clock starts at 2025-10-09T08:53:20Z.
constexpr int64_t kStart = 1'760'000'000'000;
constexpr int64_t kNine = 1'760'000'400'000;  // 2025-10-09T09:00:00Z
constexpr int64_t kTen = 1'760'004'000'000;   // 2025-10-09T10:00:00Z

DeviceException Exception(std::string id = "unlock-1", int64_t from = kNine, int64_t until = kTen,
                          std::string terminal = std::string(kTerminal)) {
  DeviceException e;
  e.id = std::move(id);
  e.terminal_id = std::move(terminal);
  e.vendor_id = 0x0781;
  e.product_id = 0x5581;
  e.serial = std::string(kSerial);
  e.not_before_ms = from;
  e.not_after_ms = until;
  e.reason = "監査資料の受け渡し";
  return e;
}

class AgentCoreExceptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto o = JournalEventOutbox::Open(dir_.path(), clock_);
    ASSERT_TRUE(o.ok()) << o.error().message;
    outbox_ = std::move(*o);
  }

  std::unique_ptr<AgentCore> MakeCore(const Clock& clock) {
    AgentCoreOptions options;
    options.hostname = "terminal-01";
    options.terminal_id = std::string(kTerminal);
    auto core = std::make_unique<AgentCore>(backend_, *outbox_, clock, TestPolicyVerifier(), cache_,
                                            options);
    core->SetExceptionStore(store_);
    return core;
  }
  std::unique_ptr<AgentCore> MakeCore() { return MakeCore(clock_); }

  std::vector<Event> TakeEvents() {
    auto events = PendingEvents(*outbox_, 1000);
    if (!events.empty()) outbox_->Ack(events.back().seq);
    return events;
  }
  static std::vector<EventKind> Kinds(const std::vector<Event>& events) {
    std::vector<EventKind> out;
    for (const Event& e : events) out.push_back(e.kind);
    return out;
  }
  static Decision StickDecision(const AgentCore& core) {
    for (const Device& d : core.Snapshot().devices) {
      if (d.device_id == "stick") return d.decision;
    }
    return {};
  }

  TempDir dir_;
  FilePolicyCache cache_{dir_.path()};
  MemoryExceptionStore store_;
  FakeClock clock_{kStart};
  FakeBackend backend_;
  std::unique_ptr<JournalEventOutbox> outbox_;
};

TEST_F(AgentCoreExceptionsTest, AllowsTheNamedDeviceOnlyInsideItsWindow) {
  backend_.Plug("stick", Stick());
  auto core = MakeCore();
  core->ObserveCollectorTime(clock_.NowMs());
  ASSERT_TRUE(core->AddLocalException(Exception()).ok());
  core->Reconcile();
  EXPECT_EQ(StickDecision(*core).action, Action::kBlock);  // before the window
  EXPECT_EQ(core->NextExceptionBoundaryMs(), kNine);
  TakeEvents();

  clock_.Advance(kNine - kStart);
  core->Reconcile();
  Decision d = StickDecision(*core);
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_EQ(d.matched_rule, "exception:unlock-1");
  EXPECT_TRUE(d.enforced);
  EXPECT_EQ(backend_.applies().back(), std::make_pair(std::string("stick"), Action::kAllow));
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kExceptionStarted, EventKind::kDeviceAllowed}));
  EXPECT_THAT(events[0].detail,
              HasSubstr("exception unlock-1 (0781:5581 serial '" + std::string(kSerial) +
                        "') allows the device from "
                        "2025-10-09T18:00:00+09:00 until "
                        "2025-10-09T19:00:00+09:00; reason: 監査資料の受け渡し"));
  ASSERT_TRUE(events[0].device.has_value());
  EXPECT_EQ(events[0].device->device_id, "stick");
  EXPECT_EQ(events[1].detail, "allow by rule 'exception:unlock-1'");
  EXPECT_EQ(core->NextExceptionBoundaryMs(), kTen);

  // The last millisecond of the window still allows; the end is exclusive.
  clock_.Advance(kTen - kNine - 1);
  core->Reconcile();
  EXPECT_EQ(StickDecision(*core).action, Action::kAllow);
  EXPECT_TRUE(TakeEvents().empty());

  clock_.Advance(1);
  core->Reconcile();
  EXPECT_EQ(StickDecision(*core).action, Action::kBlock);
  EXPECT_EQ(StickDecision(*core).matched_rule, "default");
  // De-authorized while still plugged.
  EXPECT_EQ(backend_.applies().back(), std::make_pair(std::string("stick"), Action::kBlock));
  events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kExceptionEnded, EventKind::kDeviceBlocked}));
  EXPECT_THAT(events[0].detail,
              HasSubstr("ended: its window ended at 2025-10-09T19:00:00+09:00; the device is "
                        "decided by the policy again"));
  EXPECT_EQ(events[0].severity, Severity::kInfo);
  EXPECT_EQ(core->NextExceptionBoundaryMs(), std::nullopt);
}

TEST_F(AgentCoreExceptionsTest, ReplugInsideTheWindowKeepsWorking) {
  backend_.Plug("stick", Stick());
  clock_.Advance(kNine - kStart + 1000);
  auto core = MakeCore();
  core->ObserveCollectorTime(clock_.NowMs());
  ASSERT_TRUE(core->AddLocalException(Exception()).ok());
  EXPECT_EQ(StickDecision(*core).action, Action::kAllow);  // applied at once

  backend_.Unplug("stick");
  core->Reconcile();
  EXPECT_TRUE(core->Snapshot().devices.empty());
  backend_.Plug("stick2", Stick());  // another port, the same device
  core->Reconcile();
  ASSERT_EQ(core->Snapshot().devices.size(), 1u);
  EXPECT_EQ(core->Snapshot().devices[0].decision.matched_rule, "exception:unlock-1");
  EXPECT_EQ(backend_.applies().back(), std::make_pair(std::string("stick2"), Action::kAllow));
  // Started once for the window, not once per plug.
  auto kinds = Kinds(TakeEvents());
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), EventKind::kExceptionStarted), 1);

  // Another stick of the same model is not covered.
  backend_.Plug("twin", Stick("OTHER-SERIAL"));
  core->Reconcile();
  for (const Device& d : core->Snapshot().devices) {
    if (d.device_id == "twin") {
      EXPECT_EQ(d.decision.action, Action::kBlock);
    }
  }
}

TEST_F(AgentCoreExceptionsTest, ClockOutOfBoundsGetsNoExceptionAndSaysWhy) {
  backend_.Plug("stick", Stick());
  clock_.Advance(kNine - kStart);
  auto core = MakeCore();
  // This terminal's clock runs 10 minutes ahead of the collector's.
  core->ObserveCollectorTime(clock_.NowMs() - 600'000);
  ASSERT_TRUE(core->AddLocalException(Exception()).ok());
  Decision d = StickDecision(*core);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default");
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kExceptionEnded, EventKind::kDeviceBlocked}));
  EXPECT_EQ(events[0].severity, Severity::kWarning);
  EXPECT_THAT(events[0].detail,
              HasSubstr("exception unlock-1 (0781:5581 serial '4C530001231120115142') not "
                        "applied: this terminal's clock is 600 s ahead of the collector's"));
  EXPECT_THAT(events[0].detail, HasSubstr("the bound is 300 s"));
  EXPECT_THAT(events[1].detail, HasSubstr("unlock-1 not applied: this terminal's clock is 600 s"));
  // Said once, not at every reconciliation.
  core->Reconcile();
  EXPECT_TRUE(TakeEvents().empty());

  // Back within the bound (the clock was corrected): the exception applies.
  core->ObserveCollectorTime(clock_.NowMs() - 1000);
  core->Reconcile();
  EXPECT_EQ(StickDecision(*core).matched_rule, "exception:unlock-1");
  EXPECT_EQ(Kinds(TakeEvents()),
            (std::vector<EventKind>{EventKind::kExceptionStarted, EventKind::kDeviceAllowed}));

  // Out again (behind this time): withdrawn while plugged.
  core->ObserveCollectorTime(clock_.NowMs() + 400'000);
  core->Reconcile();
  EXPECT_EQ(StickDecision(*core).action, Action::kBlock);
  events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kExceptionEnded, EventKind::kDeviceBlocked}));
  EXPECT_THAT(events[0].detail, HasSubstr("withdrawn: this terminal's clock is 400 s behind"));
}

TEST_F(AgentCoreExceptionsTest, ClockNeverComparedGetsNoException) {
  backend_.Plug("stick", Stick());
  clock_.Advance(kNine - kStart);
  auto core = MakeCore();
  ASSERT_TRUE(core->AddLocalException(Exception()).ok());
  EXPECT_EQ(StickDecision(*core).action, Action::kBlock);
  auto events = TakeEvents();
  ASSERT_FALSE(events.empty());
  EXPECT_THAT(events[0].detail,
              HasSubstr("not applied: this terminal's clock has never been compared with the "
                        "collector's"));
}

TEST_F(AgentCoreExceptionsTest, PolicyExceptionsApplyToThisTerminalOnly) {
  backend_.Plug("stick", Stick());
  backend_.Plug("other", Stick("S-OTHER"));
  clock_.Advance(kNine - kStart + 1);
  auto core = MakeCore();
  core->ObserveCollectorTime(clock_.NowMs());
  const std::string yaml = R"(name: p
exceptions:
  - id: EX-1
    terminal: t-0042
    vid_pid: "0781:5581"
    serial: "4C530001231120115142"
    from: 2025-10-09T09:00:00Z
    until: 2025-10-09T19:00:00+09:00
  - id: EX-2
    terminal: t-9999
    vid_pid: "0781:5581"
    serial: "S-OTHER"
    from: 2025-10-09T09:00:00Z
    until: 2025-10-09T10:00:00Z
)";
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(3, "g", yaml)).ok());
  for (const Device& d : core->Snapshot().devices) {
    if (d.device_id == "stick") {
      EXPECT_EQ(d.decision.matched_rule, "exception:EX-1");
    }
    if (d.device_id == "other") {
      EXPECT_EQ(d.decision.action, Action::kBlock);
    }
  }
  auto kinds = Kinds(TakeEvents());
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), EventKind::kExceptionStarted), 1);

  // The next version no longer carries it: ended while the window runs.
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(4, "g", "name: p\n")).ok());
  EXPECT_EQ(StickDecision(*core).action, Action::kBlock);
  auto events = TakeEvents();
  bool ended = false;
  for (const Event& e : events) {
    if (e.kind == EventKind::kExceptionEnded) {
      ended = true;
      EXPECT_THAT(e.detail, HasSubstr("no longer in the policy in force"));
    }
  }
  EXPECT_TRUE(ended);
}

TEST_F(AgentCoreExceptionsTest, LocalExceptionAndSkewSurviveARestart) {
  backend_.Plug("stick", Stick());
  clock_.Advance(kNine - kStart);
  {
    auto core = MakeCore();
    core->ObserveCollectorTime(clock_.NowMs() - 2000);
    ASSERT_TRUE(core->AddLocalException(Exception()).ok());
    EXPECT_EQ(StickDecision(*core).action, Action::kAllow);
  }
  ASSERT_EQ(store_.state().local.size(), 1u);
  ASSERT_TRUE(store_.state().skew.has_value());
  EXPECT_EQ(store_.state().skew->skew_ms, 2000);

  // Restarted with the collector out of reach.
  auto core = MakeCore();
  ASSERT_TRUE(core->Start().ok());
  EXPECT_EQ(StickDecision(*core).matched_rule, "exception:unlock-1");
  core->Stop();
}

TEST_F(AgentCoreExceptionsTest, UnreadableStoreAppliesNoLocalException) {
  backend_.Plug("stick", Stick());
  clock_.Advance(kNine - kStart);
  {
    auto core = MakeCore();
    core->ObserveCollectorTime(clock_.NowMs());
    ASSERT_TRUE(core->AddLocalException(Exception()).ok());
  }
  store_.fail_load = "line 2: malformed local exception record";
  TakeEvents();
  auto core = MakeCore();
  ASSERT_TRUE(core->Start().ok());
  EXPECT_EQ(StickDecision(*core).action, Action::kBlock);
  bool said = false;
  for (const Event& e : TakeEvents()) {
    if (e.kind == EventKind::kExceptionEnded && e.severity == Severity::kAlert) {
      said = true;
      EXPECT_THAT(e.detail, HasSubstr("exception store memory cannot be read: line 2"));
    }
  }
  EXPECT_TRUE(said);
  core->Stop();
}

TEST_F(AgentCoreExceptionsTest, AddLocalExceptionRefusesWhatCannotApply) {
  auto core = MakeCore();
  const auto error = [&](DeviceException e) {
    Status s = core->AddLocalException(std::move(e));
    return s.ok() ? std::string("<accepted>") : s.error().message;
  };
  EXPECT_THAT(error(Exception("unlock-1", kNine, kTen, "t-9999")),
              HasSubstr("issued for terminal 't-9999', not for this terminal ('t-0042')"));
  EXPECT_THAT(error(Exception("bad id")), HasSubstr("id must be 1..64 characters"));
  EXPECT_THAT(error(Exception("x", kTen, kNine)), HasSubstr("ends before it starts"));
  EXPECT_THAT(error(Exception("x", kStart - 2000, kStart - 1000)),
              HasSubstr("its window ended at"));
  EXPECT_THAT(error(Exception("x", kNine, kNine + int64_t{32} * 86'400'000)),
              HasSubstr("longer than 31 days"));
  DeviceException no_serial = Exception();
  no_serial.serial.clear();
  EXPECT_THAT(error(no_serial), HasSubstr("serial must not be empty"));

  ASSERT_TRUE(core->AddLocalException(Exception()).ok());
  EXPECT_TRUE(core->AddLocalException(Exception()).ok());  // the same again: no change
  EXPECT_EQ(store_.state().local.size(), 1u);
  EXPECT_EQ(core->AddLocalException(Exception("unlock-1", kNine, kTen + 1)).error().code,
            ErrorCode::kAlreadyExists);

  store_.fail_save = "disk full";
  Status s = core->AddLocalException(Exception("unlock-2"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("not added: cannot be saved: disk full"));
  EXPECT_EQ(core->NextExceptionBoundaryMs(), kNine);
  store_.fail_save.clear();
  EXPECT_EQ(store_.state().local.size(), 1u);
}

TEST_F(AgentCoreExceptionsTest, SkewIsSavedWhenItMovesNotAtEveryReport) {
  auto core = MakeCore();
  core->ObserveCollectorTime(clock_.NowMs() - 100);
  EXPECT_EQ(store_.saves(), 1);
  clock_.Advance(60'000);
  core->ObserveCollectorTime(clock_.NowMs() - 150);
  EXPECT_EQ(store_.saves(), 1);
  clock_.Advance(60'000);
  core->ObserveCollectorTime(clock_.NowMs() - 5000);
  EXPECT_EQ(store_.saves(), 2);
  EXPECT_EQ(store_.state().skew->skew_ms, 5000);
  core->ObserveCollectorTime(0);  // no collector time in the answer
  EXPECT_EQ(store_.saves(), 2);
}

// The worker wakes for the end of the window by itself: no device event, no
// collector.
TEST_F(AgentCoreExceptionsTest, WorkerEndsTheWindowOnItsOwn) {
  SystemClock clock;
  backend_.Plug("stick", Stick());
  auto core = MakeCore(clock);
  ASSERT_TRUE(core->Start().ok());
  core->ObserveCollectorTime(clock.NowMs());
  const int64_t now = clock.NowMs();
  ASSERT_TRUE(core->AddLocalException(Exception("unlock-1", now - 1000, now + 400)).ok());
  EXPECT_EQ(StickDecision(*core).action, Action::kAllow);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (StickDecision(*core).action != Action::kBlock &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(StickDecision(*core).action, Action::kBlock);
  EXPECT_GE(clock.NowMs(), now + 400);
  EXPECT_EQ(backend_.applies().back(), std::make_pair(std::string("stick"), Action::kBlock));
  core->Stop();
}

}  // namespace
}  // namespace mamori
