// Runs dashboard.mjs (playwright-core, headless Chromium) against a real
// collector with a real agent whose simulated device carries a script
// payload in its product string. Screenshots are kept in
// <build>/artifacts/browser.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

std::string Field(const std::string& text, const std::string& label) {
  const auto pos = text.find(label);
  if (pos == std::string::npos) return "";
  const auto start = text.find_first_not_of(' ', pos + label.size());
  return text.substr(start, text.find('\n', start) - start);
}

TEST(BrowserTest, LoginOverviewLanguageAndHostileDeviceInChromium) {
  const std::string chromium = "/usr/bin/chromium";
  const std::string browser_dir = MAMORI_BROWSER_DIR;
  if (!std::filesystem::exists(chromium) ||
      !std::filesystem::exists(browser_dir + "/node_modules/playwright-core")) {
    // Never a skip: packaging/dev/setup.sh installs both, like the VM test's
    // QEMU and kernel.
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

  AgentProcess agent(pki, dir, collector, "t-browser-1", "osaka/suita");
  agent.Plug("evil",
             "vendor_id: \"0781\"\nproduct_id: \"5581\"\nserial: \"<img src=x onerror=alert(2)>\"\n"
             "manufacturer: \"<b>bold</b>\"\n"
             "product: \"<script>alert('x')</script>\"\n"
             "class: mass_storage\ninterfaces: [mass_storage]\nbus_path: \"1-2\"\n");
  agent.Start();
  // Wait until the terminal's report is stored.
  for (int i = 0; i < 100; ++i) {
    if (collector.Ctl({"terminals"}).out.find("t-browser-1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  CommandResult add = collector.Ctl({"user", "add", "olivia", "--role", "operator"});
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  const std::string uri = Field(add.out, "otpauth:");
  const auto start = uri.find("secret=") + 7;
  const std::string secret = uri.substr(start, uri.find('&', start) - start);

  const std::string artifacts = MAMORI_ARTIFACT_DIR;
  const std::vector<std::string> env = {
      "MAMORI_URL=https://127.0.0.1:" + std::to_string(port) + "/",
      "MAMORI_USER=olivia",
      "MAMORI_PASSWORD=" + Field(add.out, "password:"),
      "MAMORI_TOTP_SECRET=" + secret,
      "MAMORI_TERMINAL=t-browser-1",
      "MAMORI_ARTIFACT_DIR=" + artifacts,
  };
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back("node");
  argv.push_back(browser_dir + "/dashboard.mjs");
  CommandResult run = RunCommand(argv, std::chrono::seconds(120));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err << "\n--- collector log ---\n"
                              << collector.Log();
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/overview-en.png"));
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/overview-ja.png"));
}

TEST(BrowserTest, AdminAddsUserWithQrCodeAndTheUserLogsIn) {
  const std::string chromium = "/usr/bin/chromium";
  const std::string browser_dir = MAMORI_BROWSER_DIR;
  if (!std::filesystem::exists(chromium) ||
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

  // The first admin comes from mamorictl, as in a fresh installation.
  CommandResult add = collector.Ctl({"user", "add", "ayumi", "--role", "admin", "--no-qr"});
  ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
  const std::string uri = Field(add.out, "otpauth:");
  const auto start = uri.find("secret=") + 7;

  const std::string artifacts = MAMORI_ARTIFACT_DIR;
  const std::vector<std::string> env = {
      "MAMORI_URL=https://127.0.0.1:" + std::to_string(port) + "/",
      "MAMORI_ADMIN=ayumi",
      "MAMORI_ADMIN_PASSWORD=" + Field(add.out, "password:"),
      "MAMORI_ADMIN_TOTP_SECRET=" + uri.substr(start, uri.find('&', start) - start),
      "MAMORI_ARTIFACT_DIR=" + artifacts,
  };
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back("node");
  argv.push_back(browser_dir + "/users.mjs");
  CommandResult run = RunCommand(argv, std::chrono::seconds(120));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err << "\n--- collector log ---\n"
                              << collector.Log();
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/users-en.png"));
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/users-ja.png"));
  EXPECT_TRUE(collector.WaitForLog("dashboard user 'nora' (operator) added by 'ayumi'",
                                   std::chrono::seconds(5)));
}

}  // namespace
}  // namespace mamori::testing
