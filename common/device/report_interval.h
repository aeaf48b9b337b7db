#pragma once

#include <cstdint>

namespace mamori {

// The report interval an agent may be configured with and may declare to
// the collector. One definition for both sides: the agent refuses a config
// outside it and the collector refuses a report declaring a value outside
// it, so an agent cannot claim days between reports and still count as
// reporting.
inline constexpr uint32_t kMinReportIntervalSeconds = 1;
inline constexpr uint32_t kMaxReportIntervalSeconds = 24 * 3600;

}  // namespace mamori
