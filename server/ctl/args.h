#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/exit_status.h"
#include "common/base/result.h"

namespace mamori::ctl {

// A "--name VALUE" or "--name" option a command accepts.
struct OptionSpec {
  std::string name;        // without the leading dashes
  std::string value_name;  // e.g. "DIR"; empty for a boolean flag
  std::string help;
  bool repeatable = false;
};

// Options and positional arguments of one command line.
class ParsedArgs {
 public:
  bool Has(std::string_view name) const;
  // The value of a single-valued option.
  std::optional<std::string> Get(std::string_view name) const;
  std::string GetOr(std::string_view name, std::string_view fallback) const;
  // Every value of a repeatable option, in command-line order.
  std::vector<std::string> GetAll(std::string_view name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

  void Add(const std::string& name, std::string value) {
    options_[name].push_back(std::move(value));
  }
  void AddPositional(std::string value) { positionals_.push_back(std::move(value)); }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> options_;
  std::vector<std::string> positionals_;
};

// Parses "--name VALUE", "--name=VALUE", boolean "--name" and positionals
// ("--" ends options). Errors (code kInvalidArgument) are usage errors:
// unknown option, missing value, a value for a flag, a non-repeatable option
// given twice.
Result<ParsedArgs> ParseArgs(std::span<const std::string> args,
                             const std::vector<OptionSpec>& specs);

// True when -h or --help appears before any "--".
bool WantsHelp(std::span<const std::string> args);

// Parses a base-10 integer within [min, max]; the error names the option.
Result<int64_t> ParseIntOption(std::string_view option, std::string_view text, int64_t min,
                               int64_t max);

}  // namespace mamori::ctl
