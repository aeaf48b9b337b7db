#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace mamori {

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string format = "text";  // text | json (one JSON object per line)
  std::string file;             // empty = stderr
};

// Configures spdlog's default sink and level for the process. Every
// component then logs through its own named logger from GetLogger().
Status SetupLogging(const LogConfig& config);

// A named logger sharing the process sinks ("store", "agent-service", ...).
std::shared_ptr<spdlog::logger> GetLogger(std::string_view name);

// JSON string escaping for hand-built JSON lines.
std::string JsonEscape(std::string_view s);

}  // namespace mamori
