// Every value an agent declares is bounded at the collector's boundary:
// a hostile terminal (root on it is an adversary) sends values outside the
// bounds while an honest agent reports in the same commit windows. The
// hostile calls are refused with the field named and logged with the
// terminal and its address; the honest agent's reports and events are all
// stored and acknowledged. A real collector over real mutual TLS.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include "proto/wire/convert.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

v1::StateReport MinimalReport() {
  v1::StateReport r;
  r.set_hostname("pc-01");
  r.set_agent_version("test");
  r.set_report_interval_seconds(60);
  r.mutable_enforcement()->set_mode(v1::ENFORCEMENT_MODE_ENFORCE);
  r.mutable_enforcement()->set_healthy(true);
  SetMs(NowMs(), r.mutable_agent_time());
  return r;
}

v1::EventBatch Events(uint64_t first, int count) {
  v1::EventBatch b;
  for (int i = 0; i < count; ++i) {
    auto* e = b.add_events();
    e->set_seq(first + static_cast<uint64_t>(i));
    SetMs(NowMs(), e->mutable_time());
    e->set_kind(v1::EVENT_KIND_DEVICE_BLOCKED);
    e->set_severity(v1::SEVERITY_WARNING);
    e->set_detail("honest event");
  }
  return b;
}

std::size_t Count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// An honest agent reporting state and events in a loop on its own thread:
// every call must succeed and every event be acknowledged.
class HonestAgent {
 public:
  HonestAgent(CollectorProcess& collector, const TlsPaths& creds) : stub_(collector.Agent(creds)) {}

  // Runs `rounds` rounds (or until Stop) on a thread of its own.
  void Start(int rounds = 1'000'000) {
    thread_ = std::jthread([this, rounds](std::stop_token stop) {
      for (int i = 0; i < rounds && !stop.stop_requested(); ++i) Round();
    });
  }
  void Stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }

  void Round() {
    const auto start = Clock::now();
    {
      grpc::ClientContext ctx;
      v1::StateAck ack;
      const grpc::Status s = stub_->ReportState(WithDeadline(&ctx), MinimalReport(), &ack);
      if (!s.ok()) Fail("ReportState: " + s.error_message());
    }
    {
      grpc::ClientContext ctx;
      v1::EventAck ack;
      const grpc::Status s = stub_->ReportEvents(WithDeadline(&ctx), Events(next_seq_, 10), &ack);
      if (!s.ok()) {
        Fail("ReportEvents: " + s.error_message());
      } else if (ack.acked_through_seq() != next_seq_ + 9) {
        Fail("acked " + std::to_string(ack.acked_through_seq()) + ", sent through " +
             std::to_string(next_seq_ + 9));
      }
      next_seq_ += 10;
    }
    std::lock_guard lock(mu_);
    latencies_ms_.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }

  std::vector<std::string> failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }
  int rounds() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(latencies_ms_.size());
  }
  uint64_t events_sent() const { return next_seq_ - 1; }
  // Median round latency (state report and event batch), ms.
  double MedianMs() const {
    std::lock_guard lock(mu_);
    std::vector<double> v = latencies_ms_;
    if (v.empty()) return 0;
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    return v[v.size() / 2];
  }
  void ResetLatencies() {
    std::lock_guard lock(mu_);
    latencies_ms_.clear();
  }

 private:
  void Fail(std::string what) {
    std::lock_guard lock(mu_);
    failures_.push_back(std::move(what));
  }

  std::unique_ptr<v1::AgentService::Stub> stub_;
  std::atomic<uint64_t> next_seq_{1};
  mutable std::mutex mu_;
  std::vector<double> latencies_ms_;   // guarded by mu_
  std::vector<std::string> failures_;  // guarded by mu_
  std::jthread thread_;
};

class BoundsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    collector_ = std::make_unique<CollectorProcess>(
        pki_, dir_, "limits:\n  max_message_bytes: 65536\n  max_devices_per_report: 50\n");
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
    honest_ = std::make_unique<HonestAgent>(*collector_, pki_.IssueTerminal("t-honest", "osaka"));
  }

  grpc::Status Report(v1::AgentService::Stub& stub, const v1::StateReport& r) {
    grpc::ClientContext ctx;
    v1::StateAck ack;
    return stub.ReportState(WithDeadline(&ctx), r, &ack);
  }
  grpc::Status Send(v1::AgentService::Stub& stub, const v1::EventBatch& b,
                    uint64_t* acked = nullptr) {
    grpc::ClientContext ctx;
    v1::EventAck ack;
    grpc::Status s = stub.ReportEvents(WithDeadline(&ctx), b, &ack);
    if (acked != nullptr) *acked = ack.acked_through_seq();
    return s;
  }

  // The refusal came back with `code` and names `field`, and the collector
  // logged it with the terminal and its address.
  void ExpectRefused(const grpc::Status& s, grpc::StatusCode code, const std::string& field,
                     const std::string& terminal) {
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_NE(s.error_message().find(field), std::string::npos) << s.error_message();
    EXPECT_TRUE(collector_->WaitForLog("from terminal '" + terminal + "' at ipv4:127.0.0.1:",
                                       std::chrono::seconds(5)))
        << collector_->Log();
    EXPECT_TRUE(collector_->WaitForLog(field, std::chrono::seconds(5))) << collector_->Log();
  }

  // The honest agent's whole record: every round acknowledged, its events
  // all stored (the last seq acknowledged), its report current.
  void ExpectHonestUnaffected() {
    honest_->Stop();
    for (const std::string& f : honest_->failures()) ADD_FAILURE() << "honest agent: " << f;
    EXPECT_GT(honest_->rounds(), 0);
    auto admin = collector_->Admin(pki_.Admin());
    grpc::ClientContext ctx;
    v1::GetTerminalRequest req;
    req.set_terminal_id("t-honest");
    v1::TerminalDetail detail;
    ASSERT_TRUE(admin->GetTerminal(WithDeadline(&ctx), req, &detail).ok());
    EXPECT_EQ(detail.summary().status(), v1::COMPLIANCE_STATUS_COMPLIANT) << detail.DebugString();
    auto stub = collector_->Agent(pki_.IssueTerminal("t-honest", "osaka"));
    uint64_t acked = 0;
    ASSERT_TRUE(Send(*stub, v1::EventBatch{}, &acked).ok());
    EXPECT_EQ(acked, honest_->events_sent());
  }

  TempDir dir_;
  TestPki pki_;
  std::unique_ptr<CollectorProcess> collector_;
  std::unique_ptr<HonestAgent> honest_;
};

TEST_F(BoundsTest, ReportIntervalOfDaysIsRefused) {
  honest_->Start();
  auto hostile = collector_->Agent(pki_.IssueTerminal("t-lazy", "osaka"));
  v1::StateReport r = MinimalReport();
  r.set_report_interval_seconds(7 * 86'400);
  ExpectRefused(Report(*hostile, r), grpc::StatusCode::INVALID_ARGUMENT,
                "report_interval_seconds 604800 is outside 1..86400", "t-lazy");
  ExpectHonestUnaffected();
}

TEST_F(BoundsTest, SeqNearTwoToTheSixtyThreeAndFarAheadAreRefused) {
  honest_->Start();
  auto hostile = collector_->Agent(pki_.IssueTerminal("t-seq", "osaka"));
  v1::EventBatch near_max = Events((uint64_t{1} << 63) - 1, 1);
  ExpectRefused(Send(*hostile, near_max), grpc::StatusCode::INVALID_ARGUMENT,
                "events[0].seq 9223372036854775807", "t-seq");
  uint64_t acked = 0;
  ASSERT_TRUE(Send(*hostile, Events(1, 3), &acked).ok());
  EXPECT_EQ(acked, 3u);
  ExpectRefused(Send(*hostile, Events(2'000'000, 1)), grpc::StatusCode::INVALID_ARGUMENT,
                "more than 1000000 beyond the last acknowledged seq 3", "t-seq");
  v1::EventBatch backwards = Events(10, 2);
  backwards.mutable_events(1)->set_seq(9);
  ExpectRefused(Send(*hostile, backwards), grpc::StatusCode::INVALID_ARGUMENT,
                "must increase strictly", "t-seq");
  // Nothing of the refused batches was stored.
  ASSERT_TRUE(Send(*hostile, v1::EventBatch{}, &acked).ok());
  EXPECT_EQ(acked, 3u);
  ExpectHonestUnaffected();
}

TEST_F(BoundsTest, ClockAYearOffIsRefusedAndTheTerminalFailsTheClockCheck) {
  honest_->Start();
  auto hostile = collector_->Agent(pki_.IssueTerminal("t-clock", "osaka"));
  ASSERT_TRUE(Report(*hostile, MinimalReport()).ok());  // a good clock first
  v1::StateReport r = MinimalReport();
  SetMs(NowMs() + 365LL * 24 * 3600 * 1000 + 3'600'000, r.mutable_agent_time());
  ExpectRefused(Report(*hostile, r), grpc::StatusCode::INVALID_ARGUMENT,
                "agent_time is 365 days ahead", "t-clock");

  // Refused, yet not hidden: the clock check fails with the refusal.
  auto admin = collector_->Admin(pki_.Admin());
  grpc::ClientContext ctx;
  v1::GetTerminalRequest req;
  req.set_terminal_id("t-clock");
  v1::TerminalDetail detail;
  ASSERT_TRUE(admin->GetTerminal(WithDeadline(&ctx), req, &detail).ok());
  bool found = false;
  for (const auto& check : detail.checks()) {
    if (check.name() != "clock_skew") continue;
    found = true;
    EXPECT_EQ(check.result(), v1::CHECK_RESULT_FAIL);
    EXPECT_NE(check.evidence().find("refused: agent clock 365 days ahead"), std::string::npos)
        << check.evidence();
  }
  EXPECT_TRUE(found) << detail.DebugString();
  EXPECT_EQ(detail.summary().status(), v1::COMPLIANCE_STATUS_NON_COMPLIANT);

  // A terminal whose very first report is refused appears, failing.
  auto fresh = collector_->Agent(pki_.IssueTerminal("t-clock-new", "osaka"));
  SetMs(0, r.mutable_agent_time());  // 1970: a dead clock battery
  ExpectRefused(Report(*fresh, r), grpc::StatusCode::INVALID_ARGUMENT, "behind the collector's",
                "t-clock-new");
  grpc::ClientContext ctx2;
  req.set_terminal_id("t-clock-new");
  ASSERT_TRUE(admin->GetTerminal(WithDeadline(&ctx2), req, &detail).ok());
  EXPECT_NE(std::find(detail.summary().failing_checks().begin(),
                      detail.summary().failing_checks().end(), "clock_skew"),
            detail.summary().failing_checks().end())
      << detail.DebugString();
  ExpectHonestUnaffected();
}

TEST_F(BoundsTest, TooManyDevicesAndAPolicyVersionNeverIssuedAreRefused) {
  honest_->Start();
  auto hostile = collector_->Agent(pki_.IssueTerminal("t-many", "osaka"));
  v1::StateReport r = MinimalReport();
  for (int i = 0; i < 51; ++i) r.add_devices()->set_device_id("d" + std::to_string(i));
  ExpectRefused(Report(*hostile, r), grpc::StatusCode::RESOURCE_EXHAUSTED,
                "devices has 51 entries; at most 50", "t-many");
  v1::StateReport v = MinimalReport();
  v.set_applied_policy_version(42);
  ExpectRefused(Report(*hostile, v), grpc::StatusCode::INVALID_ARGUMENT,
                "applied_policy_version 42 is above the newest policy version", "t-many");
  ExpectHonestUnaffected();
}

TEST_F(BoundsTest, HostileWritesFailingInTheStoreDoNotFailTheHonestInTheSameCommit) {
  // The honest agent's latency alone, then with a hostile terminal sending
  // reports the store refuses (one device listed twice) as fast as it can:
  // they share group commits with the honest agent's writes.
  for (int i = 0; i < 30; ++i) honest_->Round();
  const double alone_ms = honest_->MedianMs();
  honest_->ResetLatencies();

  std::atomic<int> hostile_refused{0}, hostile_accepted{0};
  std::vector<TlsPaths> hostile_creds;
  for (int h = 0; h < 2; ++h) {
    hostile_creds.push_back(pki_.IssueTerminal("t-bad-" + std::to_string(h), "osaka"));
  }
  std::vector<std::jthread> hostiles;
  for (int h = 0; h < 2; ++h) {
    hostiles.emplace_back([&, h](std::stop_token stop) {
      auto stub = collector_->Agent(hostile_creds[static_cast<std::size_t>(h)]);
      v1::StateReport bad = MinimalReport();
      bad.add_devices()->set_device_id("same");
      bad.add_devices()->set_device_id("same");
      while (!stop.stop_requested()) {
        if (Report(*stub, bad).ok()) {
          ++hostile_accepted;
        } else {
          ++hostile_refused;
        }
      }
    });
  }
  for (auto until = Clock::now() + std::chrono::seconds(10);
       hostile_refused.load() + hostile_accepted.load() < 10 && Clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  honest_->Start(200);
  while (honest_->rounds() < 200 && honest_->failures().empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  honest_->Stop();
  const double with_hostile_ms = honest_->MedianMs();
  hostiles.clear();  // joins
  std::printf(
      "honest agent, median round (state + 10 events): alone %.1f ms, beside hostile "
      "writers %.1f ms; hostile writes refused: %d\n",
      alone_ms, with_hostile_ms, hostile_refused.load());
  EXPECT_GT(hostile_refused.load(), 0);
  EXPECT_EQ(hostile_accepted.load(), 0);
  EXPECT_FALSE(collector_->Log().find("retrying one by one") != std::string::npos)
      << "a failing write must not fail its group commit";
  ExpectHonestUnaffected();
}

TEST_F(BoundsTest, PolicyStreamsPerTerminalAreBoundedOldestClosed) {
  const TlsPaths creds = pki_.IssueTerminal("t-streams", "osaka");
  auto stub = collector_->Agent(creds);
  struct Watch {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::PolicyBundle>> reader;
    grpc::Status status;
    std::jthread thread;
  };
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < 5; ++i) {
    auto w = std::make_unique<Watch>();
    w->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::WatchPolicyRequest req;
    w->reader = stub->WatchPolicy(&w->ctx, req);
    Watch* raw = w.get();
    w->thread = std::jthread([raw] {
      v1::PolicyBundle b;
      while (raw->reader->Read(&b)) {
      }
      raw->status = raw->reader->Finish();
    });
    watches.push_back(std::move(w));
    // One at a time, so "oldest" is well defined.
    const std::string needle = "terminal 't-streams' watching policy";
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Count(collector_->Log(), needle) < static_cast<std::size_t>(i + 1) &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // The first three were closed as newer ones came; the newest two are open.
  for (int i = 0; i < 3; ++i) {
    watches[i]->thread.join();
    EXPECT_EQ(watches[i]->status.error_code(), grpc::StatusCode::ABORTED)
        << i << ": " << watches[i]->status.error_message();
  }
  EXPECT_TRUE(collector_->WaitForLog("WatchPolicy from terminal 't-streams' at ipv4:127.0.0.1:",
                                     std::chrono::seconds(5)))
      << collector_->Log();
  EXPECT_NE(collector_->Log().find("more than 2 policy streams at once; closing the oldest"),
            std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 3; i < 5; ++i) {
    EXPECT_TRUE(watches[i]->thread.joinable());
    EXPECT_EQ(watches[i]->status.error_code(), grpc::StatusCode::OK);  // not finished yet
  }
  // current_version of a policy never issued is refused.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::WatchPolicyRequest req;
    req.set_current_version(1'000);
    auto reader = stub->WatchPolicy(&ctx, req);
    v1::PolicyBundle b;
    EXPECT_FALSE(reader->Read(&b));
    const grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find("current_version 1000"), std::string::npos);
  }
  for (int i = 3; i < 5; ++i) {
    watches[i]->ctx.TryCancel();
    watches[i]->thread.join();
  }
  // An honest agent's reports are untouched by all this.
  for (int i = 0; i < 5; ++i) honest_->Round();
  ExpectHonestUnaffected();
}

// Peak resident memory of a process (VmHWM), in KiB.
long PeakRssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// A report of exactly `bytes` bytes on the wire (the product string pads it).
v1::StateReport ReportOfSize(std::size_t bytes) {
  v1::StateReport r = MinimalReport();
  auto* d = r.add_devices();
  d->set_device_id("big");
  std::size_t pad = bytes > r.ByteSizeLong() + 16 ? bytes - r.ByteSizeLong() - 16 : 0;
  for (int i = 0; i < 8; ++i) {
    d->mutable_identity()->set_product(std::string(pad, 'A'));
    const std::size_t size = r.ByteSizeLong();
    if (size == bytes) break;
    pad = pad + bytes - size;
  }
  return r;
}

// An agent stub whose channel sends messages of any size (the harness's
// channels stop at 64 MiB).
std::unique_ptr<v1::AgentService::Stub> UnlimitedAgent(const CollectorProcess& collector,
                                                       const TestPki& pki, const TlsPaths& creds) {
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = ReadWholeFile(pki.ca_file());
  opts.pem_private_key = ReadWholeFile(creds.key);
  opts.pem_cert_chain = ReadWholeFile(creds.cert);
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(std::string(TestPki::kServerName));
  args.SetMaxSendMessageSize(-1);
  return v1::AgentService::NewStub(
      grpc::CreateCustomChannel(collector.address(), grpc::SslCredentials(opts), args));
}

TEST_F(BoundsTest, OversizedMessagesAreRefusedWhateverTheirSize) {
  auto stub = collector_->Agent(pki_.IssueTerminal("t-big", "osaka"));
  // The limit is 64 KiB (65536 bytes).
  const v1::StateReport under = ReportOfSize(65'000);
  const v1::StateReport at = ReportOfSize(65'536);
  const v1::StateReport over = ReportOfSize(65'537);
  ASSERT_EQ(at.ByteSizeLong(), 65'536u);
  ASSERT_EQ(over.ByteSizeLong(), 65'537u);
  EXPECT_TRUE(Report(*stub, under).ok());
  EXPECT_TRUE(Report(*stub, at).ok());
  grpc::Status s = Report(*stub, over);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_TRUE(collector_->WaitForLog("ReportState from terminal 't-big' at ipv4:127.0.0.1:",
                                     std::chrono::seconds(5)))
      << collector_->Log();
  EXPECT_NE(collector_->Log().find("message of 65537 bytes exceeds the limit of 65536"),
            std::string::npos);

  // Beyond what the transport receives (twice the limit), and far beyond:
  // refused by gRPC before any handler runs (gRPC 1.51 does not tell the
  // application, so these are not in the collector's log).
  auto unlimited = UnlimitedAgent(*collector_, pki_, pki_.IssueTerminal("t-huge", "osaka"));
  honest_->Start();
  const long rss_before = PeakRssKiB(collector_->process().pid());
  for (std::size_t size : {std::size_t{200} * 1024, std::size_t{100} * 1024 * 1024}) {
    const auto start = Clock::now();
    s = Report(*unlimited, ReportOfSize(size));
    std::printf("%zu-byte report refused (status %d) in %.0f ms\n", size,
                static_cast<int>(s.error_code()),
                std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  }
  std::printf(
      "collector peak RSS before the oversized messages %ld KiB, after %ld KiB "
      "(no transport memory quota)\n",
      rss_before, PeakRssKiB(collector_->process().pid()));
  // The terminal is served as before.
  EXPECT_TRUE(Report(*stub, MinimalReport()).ok());
  ExpectHonestUnaffected();
}

TEST(TransportQuotaTest, AHundredMebibyteAttemptCostsNoMoreThanTheQuota) {
  // Under AddressSanitizer freed memory sits in a quarantine instead of
  // being reused, so a message read in quota-sized slices would still add
  // up to its whole size in RSS; the collector started here reuses it as a
  // normal build does. (Other builds ignore the variable.)
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string asan_options = std::string(asan != nullptr ? asan : "") +
                                   (asan != nullptr && *asan ? ":" : "") + "quarantine_size_mb=0";
  ::setenv("ASAN_OPTIONS", asan_options.c_str(), 1);
  TempDir dir;
  TestPki pki;
  CollectorProcess collector(pki, dir,
                             "limits:\n  max_message_bytes: 65536\n"
                             "  transport_memory_bytes: 33554432\n");
  ASSERT_TRUE(collector.Start()) << collector.Log();
  const TlsPaths creds = pki.IssueTerminal("t-huge", "osaka");
  auto stub = UnlimitedAgent(collector, pki, creds);
  const long rss_before = PeakRssKiB(collector.process().pid());
  grpc::ClientContext ctx;
  v1::StateAck ack;
  const grpc::Status s =
      stub->ReportState(WithDeadline(&ctx, 30), ReportOfSize(std::size_t{100} * 1024 * 1024), &ack);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  const long rss_after = PeakRssKiB(collector.process().pid());
  std::printf(
      "with a 32 MiB transport quota: collector peak RSS %ld KiB before a 100 MiB "
      "message, %ld KiB after\n",
      rss_before, rss_after);
  EXPECT_LT(rss_after - rss_before, 64 * 1024);
  // The collector serves the terminal as before.
  grpc::ClientContext ctx2;
  EXPECT_TRUE(stub->ReportState(WithDeadline(&ctx2), MinimalReport(), &ack).ok());
}

}  // namespace
}  // namespace mamori::testing
