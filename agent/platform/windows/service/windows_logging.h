#pragma once

#include <string>

#include "common/base/result.h"

namespace mamori {

struct WindowsLogOptions {
  std::wstring logs_dir;  // mamori-agent.log and its rotations go here
  std::string level = "info";
  // Also to stderr (console mode).
  bool console = false;
};

// The log file keeps at most kLogFiles files of kLogFileBytes each.
inline constexpr std::size_t kLogFileBytes = 10 * 1024 * 1024;
inline constexpr std::size_t kLogFiles = 5;

// Process logging for the Windows agent: the Application Event Log (source
// MamoriAgent; info and above) and a size-bounded rotating file
// <logs_dir>\mamori-agent.log, which inherits the data directory's
// protected ACL; plus stderr in console mode. Every component's
// GetLogger() logger writes there.
Status SetupWindowsLogging(const WindowsLogOptions& options);

}  // namespace mamori
