#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

struct LogConfig {
  std::string level = "info";   // one of kLogLevels
  std::string format = "text";  // text | json (one JSON object per line)
  std::string file;             // empty = stderr
};

// The levels log.level and --log-level accept, as messages name them.
inline constexpr std::string_view kLogLevels = "trace, debug, info, warn, error, critical or off";
bool IsLogLevel(std::string_view level);
// Ok for a level IsLogLevel accepts; otherwise kInvalidArgument saying
// "unknown level '<level>' (expected <kLogLevels>)", for the mains'
// --log-level.
Status CheckLogLevel(std::string_view level);

// Configures spdlog's default sink and level for the process. Every
// component then logs through its own named logger from GetLogger().
Status SetupLogging(const LogConfig& config);

// Like SetupLogging, with sinks the caller built (the Windows service: the
// Event Log and a rotating file), each with its formatter already set.
Status SetupLoggingSinks(std::string_view level, std::vector<spdlog::sink_ptr> sinks);

// The formatter SetupLogging gives its sink: "text" or "json"; "event" is
// text without the timestamp, for sinks that stamp records themselves (the
// Windows Event Log). Messages are escaped the same way in all three.
std::unique_ptr<spdlog::formatter> MakeLogFormatter(std::string_view format);

// A named logger sharing the process sinks ("store", "agent-service", ...).
std::shared_ptr<spdlog::logger> GetLogger(std::string_view name);

// JSON string escaping for hand-built JSON lines.
std::string JsonEscape(std::string_view s);

}  // namespace mamori
