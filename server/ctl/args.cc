#include "server/ctl/args.h"

#include <charconv>

namespace mamori::ctl {

bool ParsedArgs::Has(std::string_view name) const { return options_.find(name) != options_.end(); }

std::optional<std::string> ParsedArgs::Get(std::string_view name) const {
  auto it = options_.find(name);
  if (it == options_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string ParsedArgs::GetOr(std::string_view name, std::string_view fallback) const {
  std::optional<std::string> v = Get(name);
  return v ? *v : std::string(fallback);
}

std::vector<std::string> ParsedArgs::GetAll(std::string_view name) const {
  auto it = options_.find(name);
  return it == options_.end() ? std::vector<std::string>{} : it->second;
}

Result<ParsedArgs> ParseArgs(std::span<const std::string> args,
                             const std::vector<OptionSpec>& specs) {
  ParsedArgs parsed;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg == "-" || !arg.starts_with("-")) {
      parsed.AddPositional(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      return MakeError(ErrorCode::kInvalidArgument, "unknown option " + arg);
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) return MakeError(ErrorCode::kInvalidArgument, "unknown option --" + name);
    if (!spec->repeatable && parsed.Has(name)) {
      return MakeError(ErrorCode::kInvalidArgument, "--" + name + " given more than once");
    }
    if (spec->value_name.empty()) {
      if (inline_value) {
        return MakeError(ErrorCode::kInvalidArgument, "--" + name + " takes no value");
      }
      parsed.Add(name, "true");
      continue;
    }
    if (inline_value) {
      parsed.Add(name, *inline_value);
    } else if (i + 1 < args.size()) {
      parsed.Add(name, args[++i]);
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--" + name + " needs a value (" + spec->value_name + ")");
    }
  }
  return parsed;
}

bool WantsHelp(std::span<const std::string> args) {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "-h" || a == "--help") return true;
  }
  return false;
}

Result<int64_t> ParseIntOption(std::string_view option, std::string_view text, int64_t min,
                               int64_t max) {
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "--" + std::string(option) + ": \"" + std::string(text) + "\" is not a whole number");
  }
  if (value < min || value > max) {
    return MakeError(ErrorCode::kInvalidArgument, "--" + std::string(option) +
                                                      ": must be between " + std::to_string(min) +
                                                      " and " + std::to_string(max));
  }
  return value;
}

}  // namespace mamori::ctl
