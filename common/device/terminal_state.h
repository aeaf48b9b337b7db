#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/device/device.h"

namespace mamori {

enum class EnforcementMode { kUnspecified, kEnforce, kAuditOnly };

struct EnforcementStatus {
  EnforcementMode mode = EnforcementMode::kUnspecified;
  bool healthy = false;
  std::string detail;
  std::string backend;
};

// A terminal's last reported snapshot. The agent fills the reported fields;
// the collector adds identity (from the certificate) and receive time.
struct TerminalState {
  std::string terminal_id;
  std::string group;
  std::string hostname;
  std::string os;
  std::string agent_version;
  int64_t agent_time_ms = 0;   // agent clock at snapshot
  int64_t last_report_ms = 0;  // collector clock at receipt; 0 = never
  uint32_t report_interval_s = 0;
  uint64_t applied_policy_version = 0;
  EnforcementStatus enforcement;
  std::vector<Device> devices;
  // The last report the collector refused because the agent's clock was
  // off by more than it accepts: collector clock at the refusal (0 = none)
  // and the agent clock the report declared. Set by the collector only.
  int64_t clock_refused_ms = 0;
  int64_t clock_refused_agent_ms = 0;
};

}  // namespace mamori
