#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mamori::testing {

// A real child process for integration tests: started with posix_spawn,
// stdout and stderr appended to a log file, killed with SIGKILL and reaped
// when the object goes away so no test leaves processes behind.
class ChildProcess {
 public:
  // Starts argv[0] with the given arguments; output goes to `log_path`.
  static ChildProcess Start(const std::vector<std::string>& argv, const std::string& log_path);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int sig);
  // Waits for exit; returns the exit code, or 128+signal when killed, or
  // nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// Runs a command to completion, capturing stdout and stderr separately.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Polls `pred` every 20 ms until it holds or the timeout passes.
bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

std::string ReadWholeFile(const std::string& path);

}  // namespace mamori::testing
