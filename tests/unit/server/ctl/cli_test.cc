#include "server/ctl/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "server/ctl/command.h"
#include "tests/unit/server/ctl/run_ctl.h"

namespace mamori::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

CtlResult Ctl(const std::vector<std::string>& args) { return RunCtl(args); }

std::vector<std::string> Split(const std::string& name) {
  std::vector<std::string> words;
  std::istringstream in(name);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::vector<Command> All() {
  std::vector<Command> all = PkiCommands();
  for (Command& c : AdminCommands()) all.push_back(c);
  return all;
}

TEST(CliTest, TopLevelHelpListsEveryCommand) {
  for (const char* flag : {"--help", "-h", "help"}) {
    const CtlResult r = Ctl({flag});
    EXPECT_EQ(r.code, 0);
    EXPECT_THAT(r.err, IsEmpty());
    for (const Command& c : All()) EXPECT_THAT(r.out, HasSubstr(c.name)) << flag;
  }
}

TEST(CliTest, EveryCommandHasHelp) {
  for (const Command& c : All()) {
    for (const char* flag : {"--help", "-h"}) {
      std::vector<std::string> args = Split(c.name);
      args.push_back(flag);
      const CtlResult r = Ctl(args);
      EXPECT_EQ(r.code, 0) << c.name;
      EXPECT_THAT(r.out, StartsWith("Usage: mamorictl " + c.name)) << c.name;
      for (const OptionSpec& o : c.options) EXPECT_THAT(r.out, HasSubstr("--" + o.name)) << c.name;
      EXPECT_THAT(r.out, HasSubstr("--help"));
    }
    // --help wins over anything else on the line, even errors.
    std::vector<std::string> args = Split(c.name);
    args.insert(args.end(), {"--bogus", "--help"});
    EXPECT_EQ(Ctl(args).code, 0) << c.name;
    // "help COMMAND" is the same.
    args = Split(c.name);
    args.insert(args.begin(), "help");
    EXPECT_EQ(Ctl(args).code, 0) << c.name;
  }
}

TEST(CliTest, AdminCommandsDocumentConnectionOptions) {
  for (const Command& c : AdminCommands()) {
    std::vector<std::string> args = Split(c.name);
    args.push_back("--help");
    const CtlResult r = Ctl(args);
    for (const char* opt :
         {"--collector", "--ca", "--cert", "--key", "--server-name", "--config", "--timeout"}) {
      EXPECT_THAT(r.out, HasSubstr(opt)) << c.name;
    }
  }
}

TEST(CliTest, GroupHelp) {
  for (const char* group : {"pki", "policy"}) {
    const CtlResult r = Ctl({group, "--help"});
    EXPECT_EQ(r.code, 0);
    EXPECT_THAT(r.out, HasSubstr(std::string(group) + " "));
  }
  const CtlResult r = Ctl({"policy", "--help"});
  EXPECT_THAT(r.out, HasSubstr("policy show"));
  EXPECT_THAT(r.out, HasSubstr("policy apply"));
}

TEST(CliTest, UsageErrorsExitTwoWithHint) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"--frobnicate"},
      {"pki"},
      {"pki", "destroy"},
      {"status", "--bogus"},
      {"status", "extra"},
      {"terminals", "--status"},
      {"terminals", "--status", "great", "--collector", "h:1"},
      {"terminals", "--output", "xml"},
      {"terminals", "--limit", "0"},
      {"terminal"},
      {"terminal", "a", "b"},
      {"events", "--kind", "device_exploded"},
      {"policy", "apply", "--group", "osaka"},
      {"policy", "show"},
      {"pki", "init", "--dir"},
  };
  for (const auto& args : cases) {
    const CtlResult r = Ctl(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.code, 2) << joined << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("mamorictl: ")) << joined;
    EXPECT_THAT(r.err, HasSubstr("--help'.")) << joined;
    EXPECT_THAT(r.out, IsEmpty()) << joined;
  }
  // The hint names the command the user was running.
  EXPECT_THAT(Ctl({"status", "--bogus"}).err,
              HasSubstr("mamorictl: unknown option --bogus\nTry 'mamorictl status --help'.\n"));
  EXPECT_THAT(Ctl({"pki", "destroy"}).err, HasSubstr("Try 'mamorictl pki --help'."));
}

TEST(CliTest, MissingConnectionSettingsIsUsageError) {
  const CtlResult r = Ctl({"status"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("no collector address"));
}

TEST(CliTest, Version) {
  const CtlResult r = Ctl({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, StartsWith("mamorictl "));
}

}  // namespace
}  // namespace mamori::ctl
