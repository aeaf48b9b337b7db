// Runs ledger.mjs (playwright-core, headless Chromium) against a real
// collector with a real agent: an operator registers the agent's stick on
// the ledger page and sees it listed, an admin sees the audit entry.

#include <gtest/gtest.h>

#include <chrono>
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

TEST(LedgerBrowserTest, OperatorRegistersAStickAndAdminSeesTheAuditEntry) {
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

  const std::string policy = dir.Write("osaka.yaml",
                                       "name: osaka\ndefaults:\n  storage: block\nrules:\n"
                                       "  - name: registered-sticks\n    match:\n"
                                       "      registered_media: true\n    action: allow\n");
  CommandResult applied = collector.Ctl({"policy", "apply", policy, "--group", "osaka"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  // An unregistered stick, with a script payload in its product string.
  AgentProcess agent(pki, dir, collector, "t-ledger-browser", "osaka/suita");
  agent.Plug("stick",
             "vendor_id: \"0781\"\nproduct_id: \"5581\"\nserial: \"BROWSER-STICK-1\"\n"
             "manufacturer: \"SanDisk\"\nproduct: \"<img src=x onerror=alert(3)>\"\n"
             "class: mass_storage\ninterfaces: [mass_storage]\nbus_path: \"1-2\"\n");
  agent.Start();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return collector.Ctl({"media", "unregistered"}).out.find("BROWSER-STICK-1") !=
               std::string::npos;
      },
      std::chrono::seconds(20)))
      << agent.Log();

  auto add_user = [&](const std::string& name, const std::string& role) {
    CommandResult r = collector.Ctl({"user", "add", name, "--role", role});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string uri = Field(r.out, "otpauth:");
    const auto start = uri.find("secret=") + 7;
    return std::pair{Field(r.out, "password:"), uri.substr(start, uri.find('&', start) - start)};
  };
  const auto [op_password, op_secret] = add_user("olivia", "operator");
  const auto [admin_password, admin_secret] = add_user("alice", "admin");

  const std::string artifacts = MAMORI_ARTIFACT_DIR;
  const std::vector<std::string> env = {
      "MAMORI_URL=https://127.0.0.1:" + std::to_string(port) + "/",
      "MAMORI_OPERATOR=olivia",
      "MAMORI_OPERATOR_PASSWORD=" + op_password,
      "MAMORI_OPERATOR_TOTP_SECRET=" + op_secret,
      "MAMORI_ADMIN=alice",
      "MAMORI_ADMIN_PASSWORD=" + admin_password,
      "MAMORI_ADMIN_TOTP_SECRET=" + admin_secret,
      "MAMORI_SERIAL=BROWSER-STICK-1",
      "MAMORI_ARTIFACT_DIR=" + artifacts,
  };
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back("node");
  argv.push_back(browser_dir + "/ledger.mjs");
  CommandResult run = RunCommand(argv, std::chrono::seconds(150));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err << "\n--- collector log ---\n"
                              << collector.Log();
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/ledger-ja.png"));
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/audit-en.png"));

  // What the page did reached the agent: the stick is allowed now.
  auto admin = collector.Admin(pki.Admin());
  std::string seen;
  EXPECT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext ctx;
        v1::GetTerminalRequest req;
        req.set_terminal_id("t-ledger-browser");
        v1::TerminalDetail detail;
        if (!admin->GetTerminal(WithDeadline(&ctx), req, &detail).ok()) return false;
        for (const auto& d : detail.devices()) {
          if (d.serial() != "BROWSER-STICK-1") continue;
          seen = d.decision().matched_rule();
          return d.decision().action() == v1::ACTION_ALLOW;
        }
        return false;
      },
      std::chrono::seconds(20)))
      << "matched rule: " << seen << "\n"
      << agent.Log();
}

}  // namespace
}  // namespace mamori::testing
