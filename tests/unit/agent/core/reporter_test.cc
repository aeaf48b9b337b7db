#include "agent/core/reporter.h"

#include <gtest/gtest.h>

#include <chrono>

#include "agent/outbox/event_journal.h"
#include "tests/mocks/agent_fakes.h"
#include "tests/mocks/outbox_events.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::FakeBackend;
using testing::FakeClock;
using testing::FakeCollectorClient;
using testing::Stick;
using testing::TempDir;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr auto kWait = 5s;

class ReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto o = JournalEventOutbox::Open(dir_.path(), clock_);
    ASSERT_TRUE(o.ok()) << o.error().message;
    outbox_ = std::move(*o);
    core_ = std::make_unique<AgentCore>(backend_, *outbox_, clock_, testing::TestPolicyVerifier(),
                                        policy_cache_, AgentCoreOptions{});
    options_.interval = 1h;  // only changes and retries trigger reports
    options_.jitter_percent = 10;
    options_.debounce = 20ms;
    options_.backoff_initial = 50ms;
    options_.backoff_max = 200ms;
    options_.random = [] { return 0.999999; };  // delays at the top of their range
  }

  void TearDown() override {
    if (reporter_) reporter_->Stop();
  }

  void StartReporter() {
    reporter_ = std::make_unique<Reporter>(*core_, *outbox_, client_, options_);
    core_->SetChangeListener([r = reporter_.get()] { r->NotifyChange(); });
    reporter_->Start();
  }

  std::vector<uint64_t> PendingSeqs() {
    std::vector<uint64_t> out;
    for (const Event& e : PendingEvents(*outbox_, 100)) out.push_back(e.seq);
    return out;
  }

  TempDir dir_;
  FakeClock clock_;
  FakeBackend backend_;
  testing::MemoryPolicyCache policy_cache_;
  std::unique_ptr<JournalEventOutbox> outbox_;
  std::unique_ptr<AgentCore> core_;
  FakeCollectorClient client_;
  ReporterOptions options_;
  std::unique_ptr<Reporter> reporter_;
};

TEST_F(ReporterTest, ReportsAtStartAndSoonAfterAChange) {
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.states_.size() == 1; }));
  EXPECT_TRUE(client_.states_[0].devices.empty());

  backend_.Plug("stick", Stick());
  const auto changed = std::chrono::steady_clock::now();
  core_->Reconcile();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.states_.size() == 2; }));
  // Far sooner than the one-hour interval.
  EXPECT_LT(std::chrono::steady_clock::now() - changed, 2s);
  ASSERT_TRUE(client_.WaitFor(kWait, [&] {
    return client_.states_[1].devices.size() == 1 && client_.stored_through_ == 1;
  }));
  EXPECT_EQ(client_.batches_.back().back().kind, EventKind::kDeviceBlocked);
}

// Each answer carries the collector's clock: the core keeps the skew that
// decides whether exceptions apply.
TEST_F(ReporterTest, TheCollectorsClockInTheAnswerReachesTheCore) {
  testing::MemoryExceptionStore store;
  core_->SetExceptionStore(store);
  client_.SetCollectorTime(clock_.NowMs() - 2500);
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.states_.size() == 1; }));
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return store.state().skew.has_value(); }));
  EXPECT_EQ(store.state().skew->skew_ms, 2500);
  EXPECT_EQ(store.state().skew->measured_at_ms, clock_.NowMs());
}

TEST_F(ReporterTest, BurstOfChangesIsCoalesced) {
  options_.debounce = 300ms;
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.states_.size() == 1; }));
  for (int i = 0; i < 5; ++i) reporter_->NotifyChange();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.states_.size() == 2; }));
  EXPECT_FALSE(client_.WaitFor(500ms, [&] { return client_.states_.size() > 2; }));
}

TEST_F(ReporterTest, RetriesWithBackoffAfterFailures) {
  client_.FailNextStateCalls(3);
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.states_.size() == 1; }));
  reporter_->Stop();
  ASSERT_EQ(client_.state_attempts_.size(), 4u);
  // Full jitter with the random source at its top: 49, 99, 199 ms.
  const std::vector<milliseconds> expected = {49ms, 99ms, 199ms};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto gap = client_.state_attempts_[i + 1] - client_.state_attempts_[i];
    EXPECT_GE(gap, expected[i]) << "retry " << i;
  }
}

TEST_F(ReporterTest, ChangesDuringBackoffDoNotBringTheRetryForward) {
  options_.backoff_initial = 400ms;
  options_.backoff_max = 400ms;
  client_.FailNextStateCalls(1);
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.state_attempts_.size() == 1; }));
  for (int i = 0; i < 3; ++i) reporter_->NotifyChange();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.states_.size() == 1; }));
  EXPECT_GE(client_.state_attempts_[1] - client_.state_attempts_[0], 399ms);
}

TEST_F(ReporterTest, EventsAreAckedOnlyUpToWhatTheCollectorConfirms) {
  for (int i = 0; i < 5; ++i) core_->RecordStopping("event " + std::to_string(i));
  client_.SetStoreLimit(2);
  StartReporter();
  // The collector keeps 1..2; 3..5 are sent again after a backoff.
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.batches_.size() >= 3; }));
  reporter_->Stop();
  EXPECT_EQ(client_.batches_[0].size(), 5u);
  EXPECT_EQ(client_.batches_[1].front().seq, 3u);
  EXPECT_EQ(PendingSeqs(), (std::vector<uint64_t>{3, 4, 5}));

  client_.SetStoreLimit(UINT64_MAX);
  reporter_.reset();
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.stored_through_ == 5; }));
  reporter_->Stop();
  EXPECT_TRUE(PendingSeqs().empty());
}

TEST_F(ReporterTest, RestartedAgentResumesFromTheJournalInOrder) {
  options_.max_batch = 3;
  for (int i = 1; i <= 8; ++i) core_->RecordStopping("event " + std::to_string(i));
  client_.SetStoreLimit(4);
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.stored_through_ == 4; }));
  reporter_->Stop();
  reporter_.reset();

  // The agent goes away with 5..8 unacknowledged and starts again.
  core_.reset();
  outbox_.reset();
  auto reopened = JournalEventOutbox::Open(dir_.path(), clock_);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  outbox_ = std::move(*reopened);
  core_ = std::make_unique<AgentCore>(backend_, *outbox_, clock_, testing::TestPolicyVerifier(),
                                      policy_cache_, AgentCoreOptions{});
  const std::size_t first_run_batches = client_.batches_.size();
  client_.SetStoreLimit(UINT64_MAX);
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.stored_through_ == 8; }));
  reporter_->Stop();
  // The second run sends what the collector lacks, in order, once.
  std::vector<uint64_t> resent;
  std::vector<std::string> details;
  for (std::size_t b = first_run_batches; b < client_.batches_.size(); ++b) {
    for (const Event& e : client_.batches_[b]) {
      resent.push_back(e.seq);
      details.push_back(e.detail);
    }
  }
  EXPECT_EQ(resent, (std::vector<uint64_t>{5, 6, 7, 8}));
  EXPECT_NE(details.front().find("event 5"), std::string::npos) << details.front();
  EXPECT_TRUE(PendingSeqs().empty());
}

TEST_F(ReporterTest, EventsGoInBatchesOfAtMostMaxBatch) {
  options_.max_batch = 2;
  for (int i = 0; i < 5; ++i) core_->RecordStopping("e");
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.stored_through_ == 5; }));
  reporter_->Stop();
  ASSERT_EQ(client_.batches_.size(), 3u);
  EXPECT_EQ(client_.batches_[0].size(), 2u);
  EXPECT_EQ(client_.batches_[2].size(), 1u);
}

TEST_F(ReporterTest, PolicyFromTheWatchIsAppliedAndReported) {
  backend_.Plug("stick", Stick());
  core_->Reconcile();
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.watch_versions_.size() == 1; }));
  EXPECT_EQ(client_.watch_versions_[0], 0u);

  client_.PushPolicy(
      testing::SignedUpdate(5, "osaka", "name: ro\ndefaults:\n  storage: read_only\n"));
  ASSERT_TRUE(client_.WaitFor(kWait, [&] {
    return !client_.states_.empty() && client_.states_.back().applied_policy_version == 5;
  }));
  EXPECT_EQ(core_->Snapshot().devices[0].decision.action, Action::kReadOnly);

  // The stream breaks; the watch comes back asking from the new version.
  client_.EndStream();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.watch_versions_.size() == 2; }));
  EXPECT_EQ(client_.watch_versions_[1], 5u);
}

TEST_F(ReporterTest, StopDeliversTheLastEventsWithinTheDeadline) {
  options_.debounce = 1h;  // only the stop flush can send the new event
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.states_.size() == 1; }));
  core_->RecordStopping("SIGTERM");
  reporter_->Stop(std::chrono::steady_clock::now() + 2s);
  ASSERT_FALSE(client_.batches_.empty());
  EXPECT_EQ(client_.batches_.back().back().kind, EventKind::kAgentStopping);
  EXPECT_TRUE(PendingSeqs().empty());
}

TEST_F(ReporterTest, StopIsPromptWhileTheWatchBlocks) {
  StartReporter();
  ASSERT_TRUE(client_.WaitFor(kWait, [&] { return client_.watching_; }));
  const auto t0 = std::chrono::steady_clock::now();
  reporter_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  reporter_->Stop();  // idempotent
}

}  // namespace
}  // namespace mamori
