// Runs pages.mjs (playwright-core, headless Chromium) against a real
// collector and a real agent whose simulated stick is blocked: the events
// page and its CSV export, the policies page for a viewer and an operator,
// and the overview's trend chart.

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/browser/browser_fixture.h"

namespace mamori::testing {
namespace {

using BrowserPagesTest = BrowserFixture;

TEST_F(BrowserPagesTest, EventsCsvPoliciesByRoleAndTrendInChromium) {
  const std::string serial = "BRW-STICK-0001";
  AgentProcess agent(pki_, dir_, collector(), "t-pages-1", "osaka/suita");
  agent.Plug("stick", DisplayedStickYaml(serial, "<b>bold</b>", "<script>alert('x')</script>"));
  agent.Start();
  // Wait until the blocked stick's event is stored.
  bool stored = false;
  for (int i = 0; i < 100 && !stored; ++i) {
    stored = collector()
                 .Ctl({"events", "--terminal", "t-pages-1", "--kind", "device_blocked"})
                 .out.find("0781:5581") != std::string::npos;
    if (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(stored) << agent.Log() << collector().Log();

  std::vector<std::string> env = {
      "MAMORI_TERMINAL=t-pages-1",
      "MAMORI_SERIAL=" + serial,
  };
  AddUserFor(&env, "MAMORI_VIEWER", "vera", "viewer");
  AddUserFor(&env, "MAMORI_OPERATOR", "olivia", "operator");
  ASSERT_FALSE(HasFailure());
  RunScenario("pages.mjs", env, std::chrono::seconds(150));
  EXPECT_TRUE(Screenshot("events-ja.png"));
  EXPECT_TRUE(Screenshot("policies-en.png"));
  EXPECT_TRUE(
      collector().WaitForLog("applied to group 'osaka' by web:olivia", std::chrono::seconds(5)))
      << collector().Log();
}

}  // namespace
}  // namespace mamori::testing
