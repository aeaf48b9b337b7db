#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "server/ctl/args.h"

namespace mamori::ctl {

// What a command may touch besides its arguments; tests supply their own.
struct CliEnvironment {
  // Value of $MAMORICTL_CONFIG, if set.
  std::optional<std::string> config_path;
  // Decides certificate validity windows; null means the system clock.
  const Clock* clock = nullptr;
};

struct CommandContext {
  std::ostream& out;
  std::ostream& err;
  const CliEnvironment& env;
  std::string command;  // "pki issue", for messages and hints

  int64_t NowMs() const;
  // Prints "mamorictl: <message>" and the one-line --help hint; returns kExitUsage.
  int Usage(std::string_view message) const;
  // Prints "mamorictl: <message>"; returns kExitFailure.
  int Fail(std::string_view message) const;
  // Usage() for kInvalidArgument, Fail() for everything else.
  int Report(const Error& error) const;
};

// One command of mamorictl, e.g. "policy apply".
struct Command {
  std::string name;     // words after "mamorictl"
  std::string args;     // positional synopsis, e.g. "FILE"
  std::string summary;  // one line for the command list
  std::string details;  // paragraphs after the options in --help
  std::size_t min_positionals = 0;
  std::size_t max_positionals = 0;
  std::vector<OptionSpec> options;
  int (*run)(const ParsedArgs& args, const CommandContext& ctx) = nullptr;
};

std::vector<Command> PkiCommands();
std::vector<Command> AdminCommands();
// media ... and audit (ledger_commands.cc).
std::vector<Command> LedgerCommands();
// exception ... (exception_commands.cc).
std::vector<Command> ExceptionCommands();
// unlock ... (unlock_commands.cc).
std::vector<Command> UnlockCommands();
// enroll ... and pki renew (enroll_commands.cc).
std::vector<Command> EnrollCommands();

}  // namespace mamori::ctl
