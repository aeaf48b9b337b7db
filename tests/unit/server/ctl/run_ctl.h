#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "server/ctl/cli.h"

namespace mamori::ctl {

// What one in-process mamorictl invocation printed and returned.
struct CtlResult {
  int code;
  std::string out;
  std::string err;
};

inline CtlResult RunCtl(const std::vector<std::string>& args, const CliEnvironment& env = {}) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = RunCli(args, out, err, env);
  return {code, out.str(), err.str()};
}

}  // namespace mamori::ctl
