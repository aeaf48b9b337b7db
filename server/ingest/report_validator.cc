#include "server/ingest/report_validator.h"

#include <string>

#include "proto/wire/convert.h"

namespace mamori {
namespace {

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

std::string Days(uint64_t ms) { return std::to_string(ms / (24ULL * 3600 * 1000)) + " days"; }

constexpr auto kMaxClockOffset = static_cast<uint64_t>(kMaxAgentClockOffsetMs);

// |a - b| without overflow for any two int64 values.
uint64_t Distance(int64_t a, int64_t b) {
  return a > b ? static_cast<uint64_t>(a) - static_cast<uint64_t>(b)
               : static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
}

Status ValidateDevice(const v1::Device& d, std::string_view where) {
  if (d.identity().interface_classes_size() > kMaxInterfacesPerDevice) {
    return MakeError(ErrorCode::kResourceExhausted,
                     std::string(where) + ".identity.interface_classes has " +
                         std::to_string(d.identity().interface_classes_size()) +
                         " entries; at most " + std::to_string(kMaxInterfacesPerDevice) +
                         " are accepted");
  }
  if (d.decision().allowed_interface_classes_size() > kMaxInterfacesPerDevice) {
    return MakeError(ErrorCode::kResourceExhausted,
                     std::string(where) + ".decision.allowed_interface_classes has " +
                         std::to_string(d.decision().allowed_interface_classes_size()) +
                         " entries; at most " + std::to_string(kMaxInterfacesPerDevice) +
                         " are accepted");
  }
  return Status::Ok();
}

Status CheckPolicyVersion(std::string_view field, uint64_t version, uint64_t latest) {
  if (version <= latest) return Status::Ok();
  return Invalid(std::string(field) + " " + std::to_string(version) +
                 " is above the newest policy version this collector has issued (" +
                 std::to_string(latest) + ")");
}

}  // namespace

Status ValidateStateReport(const v1::StateReport& r, const CollectorLimits& limits,
                           uint64_t latest_policy_version) {
  const uint32_t interval = r.report_interval_seconds();
  if (interval != 0 &&
      (interval < kMinReportIntervalSeconds || interval > kMaxReportIntervalSeconds)) {
    return Invalid("report_interval_seconds " + std::to_string(interval) + " is outside " +
                   std::to_string(kMinReportIntervalSeconds) + ".." +
                   std::to_string(kMaxReportIntervalSeconds) + " (1 s .. 24 h)");
  }
  if (r.devices_size() > limits.max_devices_per_report) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "devices has " + std::to_string(r.devices_size()) + " entries; at most " +
                         std::to_string(limits.max_devices_per_report) +
                         " are accepted (limits.max_devices_per_report)");
  }
  for (int i = 0; i < r.devices_size(); ++i) {
    if (Status s = ValidateDevice(r.devices(i), "devices[" + std::to_string(i) + "]"); !s.ok()) {
      return s;
    }
  }
  return CheckPolicyVersion("applied_policy_version", r.applied_policy_version(),
                            latest_policy_version);
}

Status CheckAgentClock(int64_t agent_time_ms, int64_t now_ms) {
  const uint64_t off = Distance(agent_time_ms, now_ms);
  if (off <= kMaxClockOffset) return Status::Ok();
  return Invalid("agent_time is " + Days(off) + (agent_time_ms > now_ms ? " ahead of" : " behind") +
                 " the collector's clock; at most " + Days(kMaxClockOffset) + " is accepted");
}

Status ValidateEventBatch(const v1::EventBatch& b, const CollectorLimits& limits, int64_t now_ms) {
  if (b.events_size() > limits.max_events_per_batch) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "events has " + std::to_string(b.events_size()) + " entries; at most " +
                         std::to_string(limits.max_events_per_batch) +
                         " are accepted (limits.max_events_per_batch)");
  }
  uint64_t previous = 0;
  for (int i = 0; i < b.events_size(); ++i) {
    const v1::Event& e = b.events(i);
    const std::string where = "events[" + std::to_string(i) + "]";
    if (e.seq() == 0) return Invalid(where + ".seq is 0; sequence numbers start at 1");
    if (e.seq() > kMaxEventSeq) {
      return Invalid(where + ".seq " + std::to_string(e.seq()) +
                     " is above the largest accepted (" + std::to_string(kMaxEventSeq) + ")");
    }
    if (e.seq() <= previous) {
      return Invalid(where + ".seq " + std::to_string(e.seq()) +
                     " does not follow the previous event's " + std::to_string(previous) +
                     "; sequence numbers must increase strictly within a batch");
    }
    previous = e.seq();
    const int64_t t = ToMs(e.time());
    if (t > now_ms && Distance(t, now_ms) > kMaxClockOffset) {
      return Invalid(where + ".time is more than " + Days(kMaxClockOffset) +
                     " ahead of the collector's clock");
    }
    if (t < now_ms && Distance(t, now_ms) > static_cast<uint64_t>(kMaxEventAgeMs)) {
      return Invalid(where + ".time is more than " + Days(static_cast<uint64_t>(kMaxEventAgeMs)) +
                     " behind the collector's clock");
    }
    if (e.has_device()) {
      if (Status s = ValidateDevice(e.device(), where + ".device"); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status CheckSeqWindow(uint64_t highest_seq, uint64_t acked_through) {
  // Subtracts only the smaller from the larger: no value can overflow.
  if (highest_seq <= acked_through || highest_seq - acked_through <= kMaxEventSeqAhead) {
    return Status::Ok();
  }
  return Invalid("event seq " + std::to_string(highest_seq) + " is more than " +
                 std::to_string(kMaxEventSeqAhead) + " beyond the last acknowledged seq " +
                 std::to_string(acked_through));
}

Status ValidateWatchRequest(const v1::WatchPolicyRequest& request, uint64_t latest_policy_version) {
  return CheckPolicyVersion("current_version", request.current_version(), latest_policy_version);
}

}  // namespace mamori
