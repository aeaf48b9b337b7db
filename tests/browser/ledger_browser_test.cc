// Runs ledger.mjs (playwright-core, headless Chromium) against a real
// collector with a real agent: an operator registers the agent's stick on
// the ledger page and sees it listed, an admin sees the audit entry.

#include <chrono>
#include <string>
#include <vector>

#include "tests/browser/browser_fixture.h"

namespace mamori::testing {
namespace {

using LedgerBrowserTest = BrowserFixture;

TEST_F(LedgerBrowserTest, OperatorRegistersAStickAndAdminSeesTheAuditEntry) {
  const std::string policy = dir_.Write("osaka.yaml",
                                        "name: osaka\ndefaults:\n  storage: block\nrules:\n"
                                        "  - name: registered-sticks\n    match:\n"
                                        "      registered_media: true\n    action: allow\n");
  CommandResult applied = collector().Ctl({"policy", "apply", policy, "--group", "osaka"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  // An unregistered stick, with a script payload in its product string.
  AgentProcess agent(pki_, dir_, collector(), "t-ledger-browser", "osaka/suita");
  agent.Plug("stick",
             DisplayedStickYaml("BROWSER-STICK-1", "SanDisk", "<img src=x onerror=alert(3)>"));
  agent.Start();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return collector().Ctl({"media", "unregistered"}).out.find("BROWSER-STICK-1") !=
               std::string::npos;
      },
      std::chrono::seconds(20)))
      << agent.Log();

  std::vector<std::string> env = {"MAMORI_SERIAL=BROWSER-STICK-1"};
  AddUserFor(&env, "MAMORI_OPERATOR", "olivia", "operator");
  AddUserFor(&env, "MAMORI_ADMIN", "alice", "admin");
  RunScenario("ledger.mjs", env, std::chrono::seconds(150));
  EXPECT_TRUE(Screenshot("ledger-ja.png"));
  EXPECT_TRUE(Screenshot("audit-en.png"));

  // What the page did reached the agent: the stick is allowed now.
  auto admin = collector().Admin(pki_.Admin());
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
