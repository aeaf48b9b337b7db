// Runs revocation.mjs (playwright-core, headless Chromium) against a real
// collector with real agents: an admin revokes a terminal from its page,
// with a reason and a confirmation, and sees 失効; retires another and
// finds it under the 廃止 filter; a viewer gets no controls.

#include <chrono>
#include <string>
#include <vector>

#include "tests/browser/browser_fixture.h"

namespace mamori::testing {
namespace {

using RevocationBrowserTest = BrowserFixture;

TEST_F(RevocationBrowserTest, AdminRevokesAndRetiresFromTheTerminalPage) {
  AgentProcess stolen(pki_, dir_, collector(), "t-browser-stolen", "osaka/suita");
  AgentProcess old_pc(pki_, dir_, collector(), "t-browser-old", "osaka/suita");
  stolen.Start();
  old_pc.Start();
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string out = collector().Ctl({"terminals"}).out;
        return out.find("t-browser-stolen") != std::string::npos &&
               out.find("t-browser-old") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << stolen.Log() << old_pc.Log();

  std::vector<std::string> env = {"MAMORI_REVOKE=t-browser-stolen", "MAMORI_RETIRE=t-browser-old"};
  AddUserFor(&env, "MAMORI_ADMIN", "alice", "admin");
  AddUserFor(&env, "MAMORI_VIEWER", "victor", "viewer");
  RunScenario("revocation.mjs", env, std::chrono::seconds(150));
  EXPECT_TRUE(Screenshot("revoked-ja.png"));

  // What the page did reached the collector's deny list and the agent.
  const CommandResult list = collector().Ctl({"pki", "revocations"});
  EXPECT_NE(list.out.find("t-browser-stolen"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("web:alice"), std::string::npos) << list.out;
  EXPECT_TRUE(WaitUntil([&] { return stolen.Log().find("revoked") != std::string::npos; },
                        std::chrono::seconds(5)))
      << stolen.Log();
}

}  // namespace
}  // namespace mamori::testing
