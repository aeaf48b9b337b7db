#include "server/ctl/cli.h"

#include <grpc/support/log.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <span>
#include <sstream>

#include "server/ctl/display_text.h"

namespace mamori::ctl {
namespace {

constexpr std::string_view kProgram = "mamorictl";

std::vector<Command> AllCommands() {
  std::vector<Command> all = PkiCommands();
  for (Command& c : AdminCommands()) all.push_back(std::move(c));
  for (Command& c : LedgerCommands()) all.push_back(std::move(c));
  for (Command& c : ExceptionCommands()) all.push_back(std::move(c));
  for (Command& c : UnlockCommands()) all.push_back(std::move(c));
  for (Command& c : EnrollCommands()) all.push_back(std::move(c));
  return all;
}

std::vector<std::string> Words(std::string_view name) {
  std::vector<std::string> words;
  std::istringstream in{std::string(name)};
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// "pki" for "pki init"; empty for single-word commands.
std::string GroupOf(const Command& c) {
  const auto space = c.name.find(' ');
  return space == std::string::npos ? std::string() : c.name.substr(0, space);
}

std::string OptionLabel(const OptionSpec& o) {
  std::string label = "--" + o.name;
  if (!o.value_name.empty()) label += " " + o.value_name;
  return label;
}

void PrintCommandList(const std::vector<const Command*>& commands, std::ostream& out) {
  std::size_t width = 0;
  for (const Command* c : commands) width = std::max(width, c->name.size());
  for (const Command* c : commands) {
    out << "  " << c->name << std::string(width - c->name.size() + 3, ' ') << c->summary << '\n';
  }
}

void PrintTopHelp(const std::vector<Command>& commands, std::ostream& out) {
  out << "mamorictl " MAMORI_VERSION
         " - administer Mamori (USB removable-media control)\n\n"
         "Usage: mamorictl COMMAND [options]\n\nCommands:\n";
  std::vector<const Command*> list;
  for (const Command& c : commands) list.push_back(&c);
  PrintCommandList(list, out);
  out << "\nRun 'mamorictl COMMAND --help' for the options of a command.\n"
         "Exit status: 0 success, 1 error (network, collector refused, files),\n"
         "2 usage error.\n";
}

void PrintGroupHelp(std::string_view group, const std::vector<Command>& commands,
                    std::ostream& out) {
  out << "Usage: mamorictl " << group << " SUBCOMMAND [options]\n\nSubcommands:\n";
  std::vector<const Command*> list;
  for (const Command& c : commands) {
    if (GroupOf(c) == group) list.push_back(&c);
  }
  PrintCommandList(list, out);
  out << "\nRun 'mamorictl " << group << " SUBCOMMAND --help' for its options.\n";
}

void PrintCommandHelp(const Command& c, std::ostream& out) {
  out << "Usage: mamorictl " << c.name;
  if (!c.args.empty()) out << ' ' << c.args;
  out << " [options]\n\n";
  std::string summary = c.summary;
  if (!summary.empty())
    summary[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(summary[0])));
  out << summary << ".\n\nOptions:\n";
  std::size_t width = std::string_view("-h, --help").size();
  for (const OptionSpec& o : c.options) width = std::max(width, OptionLabel(o).size());
  for (const OptionSpec& o : c.options) {
    const std::string label = OptionLabel(o);
    out << "  " << label << std::string(width - label.size() + 3, ' ') << o.help << '\n';
  }
  out << "  -h, --help" << std::string(width - 10 + 3, ' ') << "show this help\n";
  if (!c.details.empty()) out << '\n' << c.details;
}

int UsageError(std::ostream& err, std::string_view message, std::string_view help_for) {
  err << kProgram << ": " << TerminalSafe(message) << "\nTry 'mamorictl "
      << (help_for.empty() ? "" : std::string(help_for) + " ") << "--help'.\n";
  return kExitUsage;
}

}  // namespace

int64_t CommandContext::NowMs() const {
  static const SystemClock system_clock;
  return (env.clock != nullptr ? env.clock : &system_clock)->NowMs();
}

int CommandContext::Usage(std::string_view message) const {
  return UsageError(err, message, command);
}

int CommandContext::Fail(std::string_view message) const {
  // Messages may quote the collector or a file; neither gets to drive the terminal.
  err << kProgram << ": " << TerminalSafeMultiline(message) << '\n';
  return kExitFailure;
}

int CommandContext::Report(const Error& error) const {
  return error.code == ErrorCode::kInvalidArgument ? Usage(error.message) : Fail(error.message);
}

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const CliEnvironment& env) {
  const std::vector<Command> commands = AllCommands();
  if (args.empty()) {
    err << "Usage: mamorictl COMMAND [options]\n";
    return UsageError(err, "no command given", "");
  }
  const std::string& first = args[0];
  if (first == "--help" || first == "-h" || (first == "help" && args.size() == 1)) {
    PrintTopHelp(commands, out);
    return kExitOk;
  }
  if (first == "--version") {
    out << "mamorictl " MAMORI_VERSION "\n";
    return kExitOk;
  }
  if (first == "help") {
    // "mamorictl help pki issue" == "mamorictl pki issue --help".
    std::vector<std::string> rest(args.begin() + 1, args.end());
    rest.push_back("--help");
    return RunCli(rest, out, err, env);
  }

  // Longest command name that prefixes the arguments.
  const Command* match = nullptr;
  std::size_t match_words = 0;
  for (const Command& c : commands) {
    const std::vector<std::string> words = Words(c.name);
    if (words.size() <= args.size() && words.size() > match_words &&
        std::equal(words.begin(), words.end(), args.begin())) {
      match = &c;
      match_words = words.size();
    }
  }
  if (match == nullptr) {
    const bool is_group = std::any_of(commands.begin(), commands.end(),
                                      [&](const Command& c) { return GroupOf(c) == first; });
    if (is_group) {
      if (args.size() > 1 && (args[1] == "--help" || args[1] == "-h")) {
        PrintGroupHelp(first, commands, out);
        return kExitOk;
      }
      if (args.size() == 1) return UsageError(err, "'" + first + "' needs a subcommand", first);
      return UsageError(err, "unknown command '" + first + " " + args[1] + "'", first);
    }
    if (first.starts_with("-")) return UsageError(err, "unknown option " + first, "");
    return UsageError(err, "unknown command '" + first + "'", "");
  }

  const std::span<const std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(match_words),
                                          args.end());
  if (WantsHelp(rest)) {
    PrintCommandHelp(*match, out);
    return kExitOk;
  }
  const CommandContext ctx{out, err, env, match->name};
  Result<ParsedArgs> parsed = ParseArgs(rest, match->options);
  if (!parsed) return ctx.Usage(parsed.error().message);
  const std::size_t n = parsed->positionals().size();
  if (n < match->min_positionals) return ctx.Usage("missing argument " + match->args);
  if (n > match->max_positionals) {
    return ctx.Usage("unexpected argument \"" + parsed->positionals()[match->max_positionals] +
                     "\"");
  }
  return match->run(*parsed, ctx);
}

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CliEnvironment env;
  if (const char* config = std::getenv("MAMORICTL_CONFIG")) env.config_path = config;
  return RunCli(args, out, err, env);
}

namespace {
void DiscardGrpcLog(gpr_log_func_args* /*args*/) {}
}  // namespace

int Main(int argc, char** argv) {
  // gRPC logs handshake failures itself; the command already reports them
  // in one line. GRPC_VERBOSITY brings the detail back for debugging.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(DiscardGrpcLog);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return RunCli(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << kProgram << ": internal error: " << e.what() << '\n';
    return kExitFailure;
  }
}

}  // namespace mamori::ctl
