// Runs dashboard.mjs and users.mjs (playwright-core, headless Chromium)
// against a real collector; dashboard.mjs also with a real agent whose
// simulated device carries a script payload in its product string.

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/browser/browser_fixture.h"

namespace mamori::testing {
namespace {

using BrowserTest = BrowserFixture;

TEST_F(BrowserTest, LoginOverviewLanguageAndHostileDeviceInChromium) {
  AgentProcess agent(pki_, dir_, collector(), "t-browser-1", "osaka/suita");
  agent.Plug("evil", DisplayedStickYaml("<img src=x onerror=alert(2)>", "<b>bold</b>",
                                        "<script>alert('x')</script>"));
  // A keyboard that also offers storage: blocked as a whole, it keeps its HID
  // interface.
  agent.Plug("combo",
             "vendor_id: \"046d\"\nproduct_id: \"c52b\"\nserial: \"KB-COMBO\"\nclass: other\n"
             "product: \"Combo Keyboard\"\ninterfaces: [hid, mass_storage]\nbus_path: \"1-3\"\n");
  agent.Start();
  // Wait until the terminal's report is stored.
  for (int i = 0; i < 100; ++i) {
    if (collector().Ctl({"terminals"}).out.find("t-browser-1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  const DashboardLogin login = AddUser("olivia", "operator");
  ASSERT_FALSE(HasFailure());
  RunScenario("dashboard.mjs",
              {
                  "MAMORI_USER=olivia",
                  "MAMORI_PASSWORD=" + login.password,
                  "MAMORI_TOTP_SECRET=" + login.totp_secret,
                  "MAMORI_TERMINAL=t-browser-1",
              },
              std::chrono::seconds(120));
  EXPECT_TRUE(Screenshot("overview-en.png"));
  EXPECT_TRUE(Screenshot("overview-ja.png"));
}

TEST_F(BrowserTest, AdminAddsUserWithQrCodeAndTheUserLogsIn) {
  // The first admin comes from mamorictl, as in a fresh installation.
  std::vector<std::string> env;
  AddUserFor(&env, "MAMORI_ADMIN", "ayumi", "admin");
  ASSERT_FALSE(HasFailure());
  RunScenario("users.mjs", env, std::chrono::seconds(120));
  EXPECT_TRUE(Screenshot("users-en.png"));
  EXPECT_TRUE(Screenshot("users-ja.png"));
  EXPECT_TRUE(collector().WaitForLog("dashboard user 'nora' (operator) added by 'ayumi'",
                                     std::chrono::seconds(5)));
}

}  // namespace
}  // namespace mamori::testing
