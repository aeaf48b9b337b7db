// Runs pages.mjs (playwright-core, headless Chromium) against a real
// collector and a real agent whose simulated stick is blocked: the events
// page and its CSV export, the policies page for a viewer and an operator,
// and the overview's trend chart. Screenshots are kept in
// <build>/artifacts/browser.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

std::string OutputField(const std::string& text, const std::string& label) {
  const auto pos = text.find(label);
  if (pos == std::string::npos) return "";
  const auto start = text.find_first_not_of(' ', pos + label.size());
  return text.substr(start, text.find('\n', start) - start);
}

TEST(BrowserPagesTest, EventsCsvPoliciesByRoleAndTrendInChromium) {
  const std::string browser_dir = MAMORI_BROWSER_DIR;
  if (!std::filesystem::exists("/usr/bin/chromium") ||
      !std::filesystem::exists(browser_dir + "/node_modules/playwright-core")) {
    FAIL() << "chromium or tests/browser/node_modules missing: run packaging/dev/setup.sh "
              "(installs Debian's chromium and runs npm ci in tests/browser)";
  }

  TempDir dir;
  TestPki pki;
  const std::string web_port_file = dir.File("web.port");
  const TlsPaths server = pki.Server();
  CollectorProcess collector(pki, dir,
                             "web:\n  listen: 127.0.0.1:0\n  port_file: " + web_port_file +
                                 "\n  cert_file: " + server.cert + "\n  key_file: " + server.key +
                                 "\n");
  ASSERT_TRUE(collector.Start()) << collector.Log();
  int port = 0;
  for (int i = 0; i < 100 && port == 0; ++i) {
    std::ifstream in(web_port_file);
    if (!(in >> port)) {
      port = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_GT(port, 0) << collector.Log();

  const std::string serial = "BRW-STICK-0001";
  AgentProcess agent(pki, dir, collector, "t-pages-1", "osaka/suita");
  agent.Plug("stick", "vendor_id: \"0781\"\nproduct_id: \"5581\"\nserial: \"" + serial +
                          "\"\nmanufacturer: \"<b>bold</b>\"\n"
                          "product: \"<script>alert('x')</script>\"\n"
                          "class: mass_storage\ninterfaces: [mass_storage]\nbus_path: \"1-2\"\n");
  agent.Start();
  // Wait until the blocked stick's event is stored.
  bool stored = false;
  for (int i = 0; i < 100 && !stored; ++i) {
    stored = collector.Ctl({"events", "--terminal", "t-pages-1", "--kind", "device_blocked"})
                 .out.find("0781:5581") != std::string::npos;
    if (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(stored) << agent.Log() << collector.Log();

  std::vector<std::string> env = {
      "MAMORI_URL=https://127.0.0.1:" + std::to_string(port) + "/",
      "MAMORI_TERMINAL=t-pages-1",
      "MAMORI_SERIAL=" + serial,
      "MAMORI_ARTIFACT_DIR=" + std::string(MAMORI_ARTIFACT_DIR),
  };
  for (const auto& [user, role, prefix] :
       {std::tuple<std::string, std::string, std::string>{"vera", "viewer", "MAMORI_VIEWER"},
        {"olivia", "operator", "MAMORI_OPERATOR"}}) {
    CommandResult add = collector.Ctl({"user", "add", user, "--role", role, "--no-qr"});
    ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
    const std::string uri = OutputField(add.out, "otpauth:");
    const auto start = uri.find("secret=") + 7;
    env.push_back(prefix + "=" + user);
    env.push_back(prefix + "_PASSWORD=" + OutputField(add.out, "password:"));
    env.push_back(prefix + "_TOTP_SECRET=" + uri.substr(start, uri.find('&', start) - start));
  }

  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back("node");
  argv.push_back(browser_dir + "/pages.mjs");
  CommandResult run = RunCommand(argv, std::chrono::seconds(150));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err << "\n--- collector log ---\n"
                              << collector.Log();
  EXPECT_TRUE(std::filesystem::exists(std::string(MAMORI_ARTIFACT_DIR) + "/events-ja.png"));
  EXPECT_TRUE(std::filesystem::exists(std::string(MAMORI_ARTIFACT_DIR) + "/policies-en.png"));
  EXPECT_TRUE(
      collector.WaitForLog("applied to group 'osaka' by web:olivia", std::chrono::seconds(5)))
      << collector.Log();
}

}  // namespace
}  // namespace mamori::testing
