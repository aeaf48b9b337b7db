#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "server/ctl/command.h"

namespace mamori::ctl {

// Runs one mamorictl invocation. `args` excludes the program name. Returns
// the process exit code: kExitOk, kExitFailure or kExitUsage.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const CliEnvironment& env);
// Same with the process environment ($MAMORICTL_CONFIG, system clock).
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Entry point of the mamorictl binary.
int Main(int argc, char** argv);

}  // namespace mamori::ctl
