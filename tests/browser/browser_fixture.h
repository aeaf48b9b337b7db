#pragma once

// What every dashboard test in Chromium sets up: a real collector serving
// the dashboard on a loopback port, dashboard users made with mamorictl as
// an administrator would, and a node scenario (playwright-core, headless
// Chromium) run against it. Screenshots are kept in <build>/artifacts/browser.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/harness.h"

namespace mamori::testing {

// The value after `label` on its line of mamorictl's output.
inline std::string OutputField(const std::string& text, const std::string& label) {
  const auto pos = text.find(label);
  if (pos == std::string::npos) return "";
  const auto start = text.find_first_not_of(' ', pos + label.size());
  return text.substr(start, text.find('\n', start) - start);
}

// A USB stick whose strings are shown on the dashboard, often hostile ones.
inline std::string DisplayedStickYaml(const std::string& serial, const std::string& manufacturer,
                                      const std::string& product) {
  return "vendor_id: \"0781\"\nproduct_id: \"5581\"\nserial: \"" + serial + "\"\nmanufacturer: \"" +
         manufacturer + "\"\nproduct: \"" + product +
         "\"\nclass: mass_storage\ninterfaces: [mass_storage]\nbus_path: \"1-2\"\n";
}

// How a dashboard user logs in.
struct DashboardLogin {
  std::string password;
  std::string totp_secret;
};

class BrowserFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/bin/chromium") ||
        !std::filesystem::exists(std::string(MAMORI_BROWSER_DIR) +
                                 "/node_modules/playwright-core")) {
      // Never a skip: packaging/dev/setup.sh installs both, like the VM
      // test's QEMU and kernel.
      FAIL() << "chromium or tests/browser/node_modules missing: run packaging/dev/setup.sh "
                "(installs Debian's chromium and runs npm ci in tests/browser)";
    }
    const std::string web_port_file = dir_.File("web.port");
    const TlsPaths server = pki_.Server();
    collector_.emplace(pki_, dir_,
                       "web:\n  listen: 127.0.0.1:0\n  port_file: " + web_port_file +
                           "\n  cert_file: " + server.cert + "\n  key_file: " + server.key + "\n" +
                           collector_extra_);
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
    for (int i = 0; i < 100 && web_port_ == 0; ++i) {
      std::ifstream in(web_port_file);
      if (!(in >> web_port_)) {
        web_port_ = 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    ASSERT_GT(web_port_, 0) << collector_->Log();
  }

  CollectorProcess& collector() { return *collector_; }

  // Adds a dashboard user with `mamorictl user add`.
  DashboardLogin AddUser(const std::string& name, const std::string& role) {
    CommandResult r = collector_->Ctl({"user", "add", name, "--role", role, "--no-qr"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string uri = OutputField(r.out, "otpauth:");
    const auto secret = uri.find("secret=");
    EXPECT_NE(secret, std::string::npos) << r.out;
    if (secret == std::string::npos) return {};
    const auto start = secret + 7;
    return {OutputField(r.out, "password:"), uri.substr(start, uri.find('&', start) - start)};
  }

  // Adds a dashboard user and passes their login to the scenario as
  // PREFIX, PREFIX_PASSWORD and PREFIX_TOTP_SECRET.
  void AddUserFor(std::vector<std::string>* env, const std::string& prefix, const std::string& name,
                  const std::string& role) {
    const DashboardLogin login = AddUser(name, role);
    env->push_back(prefix + "=" + name);
    env->push_back(prefix + "_PASSWORD=" + login.password);
    env->push_back(prefix + "_TOTP_SECRET=" + login.totp_secret);
  }

  // Runs tests/browser/`script` with `env`, MAMORI_URL and
  // MAMORI_ARTIFACT_DIR; it passes when it exits 0.
  void RunScenario(const std::string& script, std::vector<std::string> env,
                   std::chrono::seconds timeout) {
    std::vector<std::string> argv = {
        "/usr/bin/env",
        "MAMORI_URL=https://127.0.0.1:" + std::to_string(web_port_) + "/",
        "MAMORI_ARTIFACT_DIR=" + std::string(MAMORI_ARTIFACT_DIR),
    };
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back("node");
    argv.push_back(std::string(MAMORI_BROWSER_DIR) + "/" + script);
    CommandResult run = RunCommand(argv, timeout);
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err << "\n--- collector log ---\n"
                                << collector_->Log();
  }

  // True when the scenario saved the screenshot `name`.
  static bool Screenshot(const std::string& name) {
    return std::filesystem::exists(std::string(MAMORI_ARTIFACT_DIR) + "/" + name);
  }

  TempDir dir_;
  TestPki pki_;
  // More lines of the collector's config, set by a derived fixture before SetUp.
  std::string collector_extra_;

 private:
  std::optional<CollectorProcess> collector_;
  int web_port_ = 0;
};

}  // namespace mamori::testing
