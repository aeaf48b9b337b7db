#include "agent/core/reporter.h"

#include <algorithm>
#include <random>
#include <utility>

#include "common/base/logging.h"

namespace mamori {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a watch stream must have lived to count as a working connection
// again (its failure then restarts the backoff from the beginning).
constexpr milliseconds kHealthyStream{std::chrono::seconds(30)};

// Cancellation may race with the watch thread entering WatchPolicy; it is
// repeated at this period until the thread has left.
constexpr milliseconds kCancelRetry{50};

Backoff::RandomSource SeededRandom() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace

Reporter::Reporter(AgentCore& core, EventOutbox& outbox, CollectorClient& client,
                   ReporterOptions options, std::shared_ptr<spdlog::logger> logger)
    : core_(core),
      outbox_(outbox),
      client_(client),
      options_(std::move(options)),
      log_(logger ? std::move(logger) : GetLogger("reporter")),
      random_(options_.random ? options_.random : SeededRandom()) {}

Reporter::~Reporter() { Stop(); }

void Reporter::Start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return;
    started_ = true;
  }
  report_thread_ = std::jthread([this] { ReportLoop(); });
  watch_thread_ = std::jthread([this] { WatchLoop(); });
}

void Reporter::NotifyChange() {
  {
    std::lock_guard lock(mu_);
    if (!change_pending_) {
      change_pending_ = true;
      change_since_ = Steady::now();
    }
  }
  cv_.notify_all();
}

void Reporter::Stop(std::optional<Steady::time_point> flush_deadline) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !started_) {
      stopping_ = true;
      return;
    }
    stopping_ = true;
    flush_deadline_ = flush_deadline;
  }
  cv_.notify_all();
  {
    std::unique_lock lock(mu_);
    while (!watch_done_) {
      lock.unlock();
      client_.CancelWatch();
      lock.lock();
      cv_.wait_for(lock, kCancelRetry, [this] { return watch_done_; });
    }
  }
  watch_thread_.join();
  report_thread_.join();
}

bool Reporter::Stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

milliseconds Reporter::JitteredInterval() {
  const double spread = static_cast<double>(options_.jitter_percent) / 100.0;
  const double factor = 1.0 + spread * (2.0 * std::clamp(random_(), 0.0, 1.0) - 1.0);
  const auto ms = static_cast<int64_t>(static_cast<double>(options_.interval.count()) * factor);
  return milliseconds(std::max<int64_t>(ms, 1));
}

void Reporter::ReportLoop() {
  Backoff backoff(options_.backoff_initial, options_.backoff_max, options_.random);
  bool failing = false;
  bool in_backoff = false;
  // The first report goes out at once: the collector learns of the start.
  Steady::time_point next_attempt = Steady::now();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopping_) break;
        Steady::time_point due = next_attempt;
        // During backoff a change does not bring the retry forward: the
        // retry sends it anyway, and hammering a struggling collector helps
        // no one.
        if (change_pending_ && !in_backoff) {
          due = std::min(due, change_since_ + options_.debounce);
        }
        if (Steady::now() >= due) break;
        cv_.wait_until(lock, due);
      }
      if (stopping_) {
        const auto deadline = flush_deadline_;
        lock.unlock();
        if (deadline && Steady::now() < *deadline) {
          Status s = SendEvents(deadline);
          if (!s.ok()) log_->warn("could not deliver the last events: {}", s.error().message);
        }
        return;
      }
      change_pending_ = false;
    }

    Status s = RunCycle();
    if (s.ok()) {
      if (failing) log_->info("reporting to the collector again");
      failing = false;
      in_backoff = false;
      backoff.Reset();
      next_attempt = Steady::now() + JitteredInterval();
    } else {
      const milliseconds delay = backoff.Next();
      // One line per change of state, not per retry, so a long outage does
      // not flood the log.
      if (!failing) {
        log_->warn("reporting to the collector failed: {}; retrying with backoff",
                   s.error().message);
      } else {
        log_->debug("report retry failed: {}; next in {} ms", s.error().message, delay.count());
      }
      failing = true;
      in_backoff = true;
      next_attempt = Steady::now() + delay;
    }
  }
}

Status Reporter::RunCycle() {
  TerminalState state = core_.Snapshot();
  Result<StateAckInfo> ack = client_.ReportState(state);
  if (!ack.ok()) return ack.error();
  // The answer carries the collector's clock: exceptions apply only while
  // this terminal's clock is close to it.
  core_.ObserveCollectorTime(ack->collector_time_ms);
  if (ack->assigned_policy_version != state.applied_policy_version) {
    log_->debug("collector assigns policy version {}, version {} is applied",
                ack->assigned_policy_version, state.applied_policy_version);
  }
  return SendEvents(std::nullopt);
}

Status Reporter::SendEvents(std::optional<Steady::time_point> deadline) {
  for (;;) {
    if (deadline ? Steady::now() >= *deadline : Stopping()) return Status::Ok();
    std::vector<OutboxRecord> batch = outbox_.Pending(options_.max_batch);
    if (batch.empty()) return Status::Ok();
    Result<uint64_t> acked = client_.ReportEvents(batch);
    if (!acked.ok()) return acked.error();
    outbox_.Ack(*acked);
    if (*acked < batch.front().seq) {
      // Stored nothing of the batch: retrying at once would spin.
      return MakeError(ErrorCode::kUnavailable,
                       "collector acknowledged through seq " + std::to_string(*acked) +
                           " after a batch starting at seq " + std::to_string(batch.front().seq));
    }
  }
}

void Reporter::WatchLoop() {
  Backoff backoff(options_.backoff_initial, options_.backoff_max, options_.random);
  bool failing = false;
  for (;;) {
    if (Stopping()) break;
    bool received = false;
    const Steady::time_point began = Steady::now();
    Status s = client_.WatchPolicy(core_.applied_policy_version(), [&](const PolicyBundle& update) {
      received = true;
      // Rejections are recorded as events by the core.
      Status applied = core_.ApplyPolicyUpdate(update);
      (void)applied;
    });
    if (Stopping()) break;
    if (received || Steady::now() - began >= kHealthyStream) {
      backoff.Reset();
      failing = false;
    }
    const milliseconds delay = backoff.Next();
    if (!failing) {
      if (s.ok()) {
        log_->info("policy stream closed by the collector; reconnecting");
      } else {
        log_->warn("policy stream failed: {}; reconnecting with backoff", s.error().message);
      }
    } else {
      log_->debug("policy stream retry failed: {}; next in {} ms",
                  s.ok() ? std::string("closed") : s.error().message, delay.count());
    }
    failing = true;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, delay, [this] { return stopping_; });
  }
  {
    std::lock_guard lock(mu_);
    watch_done_ = true;
  }
  cv_.notify_all();
}

}  // namespace mamori
