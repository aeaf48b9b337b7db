// Runs exceptions.mjs (playwright-core, headless Chromium) against a real
// collector with a real agent: an operator requests an exception for the
// agent's stick, a viewer cannot, an admin approves, and the terminal's page
// shows it active and then ended; the agent allowed the stick meanwhile.

#include <chrono>
#include <string>
#include <vector>

#include "tests/browser/browser_fixture.h"

namespace mamori::testing {
namespace {

using ExceptionsBrowserTest = BrowserFixture;

TEST_F(ExceptionsBrowserTest, OperatorRequestsViewerCannotAdminApprovesAndItEnds) {
  const std::string policy = dir_.Write("osaka.yaml", "name: osaka\ndefaults:\n  storage: block\n");
  CommandResult applied = collector().Ctl({"policy", "apply", policy, "--group", "osaka"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  AgentProcess agent(pki_, dir_, collector(), "t-exc-browser", "osaka/suita");
  agent.Plug("stick", StickYaml("EXC-BROWSER-1"));
  agent.Start();
  auto admin = collector().Admin(pki_.Admin());
  const auto stick_rule = [&]() -> std::string {
    grpc::ClientContext ctx;
    v1::GetTerminalRequest req;
    req.set_terminal_id("t-exc-browser");
    v1::TerminalDetail detail;
    if (!admin->GetTerminal(WithDeadline(&ctx), req, &detail).ok()) return "";
    for (const auto& d : detail.devices()) {
      if (d.serial() == "EXC-BROWSER-1") return d.decision().matched_rule();
    }
    return "";
  };
  ASSERT_TRUE(WaitUntil([&] { return stick_rule() == "default"; }, std::chrono::seconds(20)))
      << agent.Log();

  std::vector<std::string> env = {"MAMORI_TERMINAL=t-exc-browser", "MAMORI_SERIAL=EXC-BROWSER-1",
                                  "MAMORI_WINDOW_SECONDS=45"};
  AddUserFor(&env, "MAMORI_OPERATOR", "olivia", "operator");
  AddUserFor(&env, "MAMORI_VIEWER", "victor", "viewer");
  AddUserFor(&env, "MAMORI_ADMIN", "alice", "admin");
  RunScenario("exceptions.mjs", env, std::chrono::seconds(160));
  EXPECT_TRUE(Screenshot("exception-active-en.png"));
  EXPECT_TRUE(Screenshot("exception-ended-en.png"));

  // The window is over: the agent blocked the stick again by itself.
  EXPECT_TRUE(WaitUntil([&] { return stick_rule() == "default"; }, std::chrono::seconds(20)))
      << stick_rule() << "\n"
      << agent.Log();
  CommandResult started = collector().Ctl({"events", "--terminal", "t-exc-browser"});
  EXPECT_NE(started.out.find("exception"), std::string::npos) << started.out << started.err;
}

}  // namespace
}  // namespace mamori::testing
