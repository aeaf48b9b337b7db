#include "server/admin/compliance_recorder.h"

#include "common/base/logging.h"

namespace mamori {

ComplianceRecorder::ComplianceRecorder(const AdminQueries* queries,
                                       std::chrono::milliseconds interval)
    : queries_(queries),
      interval_(interval),
      thread_([this](std::stop_token stop) { Run(std::move(stop)); }) {}

ComplianceRecorder::~ComplianceRecorder() { Stop(); }

void ComplianceRecorder::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

void ComplianceRecorder::Run(std::stop_token stop) {
  static const auto log = GetLogger("compliance-recorder");
  while (!stop.stop_requested()) {
    if (Status s = queries_->RecordComplianceSnapshot(); !s.ok()) {
      log->warn("cannot record today's compliance counts: {}", s.error().message);
    }
    std::unique_lock lock(mu_);
    // Returns early, with the predicate true, when a stop is requested.
    wake_.wait_for(lock, stop, interval_, [] { return false; });
  }
}

}  // namespace mamori
