// Runs enrollment.mjs (playwright-core, headless Chromium) against a real
// collector with an issuing CA: an admin creates a token, sees it once and
// listed, revokes it; a viewer only reads.

#include <chrono>
#include <string>
#include <vector>

#include "tests/browser/browser_fixture.h"

namespace mamori::testing {
namespace {

class EnrollmentBrowserTest : public BrowserFixture {
 protected:
  void SetUp() override {
    collector_extra_ = "enrollment:\n  issuing_ca_cert_file: " + pki_.dir() +
                       "/ca.pem\n  issuing_ca_key_file: " + pki_.dir() + "/ca.key\n";
    BrowserFixture::SetUp();
  }
};

TEST_F(EnrollmentBrowserTest, AdminCreatesListsAndRevokesATokenViewerOnlyReads) {
  std::vector<std::string> env;
  AddUserFor(&env, "MAMORI_ADMIN", "alice", "admin");
  AddUserFor(&env, "MAMORI_VIEWER", "victor", "viewer");
  RunScenario("enrollment.mjs", env, std::chrono::seconds(150));
  EXPECT_TRUE(Screenshot("enrollment-ja.png"));
  EXPECT_TRUE(Screenshot("enrollment-en.png"));
  // What the page did is in the store: one token, revoked.
  CommandResult list = collector().Ctl({"enroll", "token", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("revoked"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("25/25"), std::string::npos) << list.out;
}

}  // namespace
}  // namespace mamori::testing
