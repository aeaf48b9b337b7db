#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/admin/admin_queries.h"

namespace mamori {

// Keeps the daily compliance records the trend chart shows: records
// today's counts when started and then every `interval` (each record
// replaces the day's earlier one, so a day ends with its last counts).
// A failed record is logged and retried at the next tick.
class ComplianceRecorder {
 public:
  ComplianceRecorder(const AdminQueries* queries, std::chrono::milliseconds interval);
  ~ComplianceRecorder();
  ComplianceRecorder(const ComplianceRecorder&) = delete;
  ComplianceRecorder& operator=(const ComplianceRecorder&) = delete;

  // Stops the timer and waits for a record in progress. Idempotent.
  void Stop();

 private:
  void Run(std::stop_token stop);

  const AdminQueries* queries_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started after the members it uses
};

}  // namespace mamori
