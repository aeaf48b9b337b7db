#include "agent/platform/windows/service/windows_logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/win_eventlog_sink.h>

#include <vector>

#include "agent/platform/windows/service/service_settings.h"
#include "agent/platform/windows/win32/wide_string.h"
#include "common/base/logging.h"

namespace mamori {

Status SetupWindowsLogging(const WindowsLogOptions& options) {
  // spdlog opens files by narrow (ANSI code page) name in this build; a
  // path that is not ASCII would be opened under another name.
  for (wchar_t c : options.logs_dir) {
    if (c < 0x20 || c > 0x7E) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "logs directory '" + Utf16ToUtf8(options.logs_dir) + "': only ASCII paths are supported");
    }
  }
  const std::string file = Utf16ToUtf8(options.logs_dir) + "\\mamori-agent.log";
  std::vector<spdlog::sink_ptr> sinks;
  try {
    auto rotating =
        std::make_shared<spdlog::sinks::rotating_file_sink_mt>(file, kLogFileBytes, kLogFiles - 1);
    rotating->set_formatter(MakeLogFormatter("text"));
    sinks.push_back(std::move(rotating));
  } catch (const spdlog::spdlog_ex& e) {
    return MakeError(ErrorCode::kIo, "cannot open log file '" + file + "': " + e.what());
  }
  auto event_log = std::make_shared<spdlog::sinks::win_eventlog_sink_mt>(
      Utf16ToUtf8(kEventLogSource), static_cast<WORD>(kEventLogMessageId));
  event_log->set_formatter(MakeLogFormatter("event"));
  // Debug output is for the file; the Event Log is read by people.
  event_log->set_level(spdlog::level::info);
  sinks.push_back(std::move(event_log));
  if (options.console) {
    auto console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    console->set_formatter(MakeLogFormatter("text"));
    sinks.push_back(std::move(console));
  }
  return SetupLoggingSinks(options.level, std::move(sinks));
}

}  // namespace mamori
