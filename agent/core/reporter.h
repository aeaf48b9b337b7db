#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/core/agent_core.h"
#include "agent/core/backoff.h"
#include "agent/core/collector_client.h"
#include "agent/core/event_outbox.h"
#include "common/base/result.h"

namespace mamori {

struct ReporterOptions {
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
  int jitter_percent = 10;
  // Coalesces a burst of changes (a hub with four devices) into one report.
  std::chrono::milliseconds debounce{200};
  std::size_t max_batch = 500;
  std::chrono::milliseconds backoff_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};
  // Uniform in [0, 1), for the interval jitter and the backoffs; null uses a
  // seeded engine. Called from the reporter's threads.
  Backoff::RandomSource random;
};

// Keeps the collector informed and the policy current, on two threads:
//  - report: ReportState every interval (with jitter) and soon after every
//    change, then the outbox's pending events in batches, acknowledged up
//    to what the collector confirms; on failure, retries with backoff.
//  - policy watch: WatchPolicy, handing bundles to the core; reconnects
//    with its own backoff when the stream ends.
class Reporter {
 public:
  Reporter(AgentCore& core, EventOutbox& outbox, CollectorClient& client, ReporterOptions options,
           std::shared_ptr<spdlog::logger> logger = nullptr);
  ~Reporter();
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  void Start();
  // Something changed: report soon. Never blocks; any thread.
  void NotifyChange();
  // Cancels the watch, wakes and joins both threads. With a flush deadline
  // the report thread first tries once to deliver the pending events (the
  // AGENT_STOPPING event among them) until that time. Idempotent.
  void Stop(std::optional<std::chrono::steady_clock::time_point> flush_deadline = std::nullopt);

 private:
  void ReportLoop();
  void WatchLoop();
  // State, then events. Stops early once stopping.
  Status RunCycle();
  // Sends pending events in batches until none remain, `deadline` passes
  // or a call fails.
  Status SendEvents(std::optional<std::chrono::steady_clock::time_point> deadline);
  std::chrono::milliseconds JitteredInterval();
  bool Stopping();

  AgentCore& core_;
  EventOutbox& outbox_;
  CollectorClient& client_;
  const ReporterOptions options_;
  const std::shared_ptr<spdlog::logger> log_;
  Backoff::RandomSource random_;  // used by the report thread only

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;                                                 // guarded by mu_
  bool stopping_ = false;                                                // guarded by mu_
  bool change_pending_ = false;                                          // guarded by mu_
  std::chrono::steady_clock::time_point change_since_;                   // guarded by mu_
  bool watch_done_ = false;                                              // guarded by mu_
  std::optional<std::chrono::steady_clock::time_point> flush_deadline_;  // guarded by mu_

  std::jthread report_thread_;
  std::jthread watch_thread_;
};

}  // namespace mamori
