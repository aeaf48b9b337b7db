// Time-limited exceptions end to end: a real collector, mamorictl over
// mutual TLS, and a real agent with a simulated stick that the exception
// allows for a few seconds, across a replug, until the agent ends it by
// itself.

#include <gtest/gtest.h>

#include <chrono>

#include "tests/integration/harness.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace mamori::testing {
namespace {

using std::chrono::seconds;

constexpr char kStick[] = "EXCEPTION-STICK-01";

constexpr char kBasePolicy[] =
    "name: osaka-standard\n"
    "defaults:\n"
    "  storage: block\n";

class ExceptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    collector_.emplace(pki_, dir_);
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
    admin_ = collector_->Admin(pki_.Admin());
  }

  std::optional<v1::Decision> StickDecision(const std::string& terminal) {
    grpc::ClientContext ctx;
    v1::GetTerminalRequest req;
    req.set_terminal_id(terminal);
    v1::TerminalDetail t;
    if (!admin_->GetTerminal(WithDeadline(&ctx), req, &t).ok()) return std::nullopt;
    for (const auto& d : t.devices()) {
      if (d.serial() == kStick) return d.decision();
    }
    return std::nullopt;
  }

  bool WaitForStick(const std::string& terminal, v1::Action want, const std::string& rule,
                    seconds timeout = seconds(20)) {
    return WaitUntil(
        [&] {
          auto d = StickDecision(terminal);
          return d && d->action() == want && (rule.empty() || d->matched_rule() == rule);
        },
        timeout);
  }

  std::vector<v1::EventView> Events(const std::string& terminal, v1::EventKind kind) {
    grpc::ClientContext ctx;
    v1::QueryEventsRequest req;
    req.set_terminal_id(terminal);
    req.add_kinds(kind);
    v1::QueryEventsResponse resp;
    if (!admin_->QueryEvents(WithDeadline(&ctx), req, &resp).ok()) return {};
    return {resp.events().begin(), resp.events().end()};
  }

  TempDir dir_;
  TestPki pki_;
  std::optional<CollectorProcess> collector_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(ExceptionTest, ApprovedExceptionAllowsTheStickUntilItsWindowEnds) {
  const std::string policy_file = dir_.Write("osaka.yaml", kBasePolicy);
  CommandResult applied = collector_->Ctl({"policy", "apply", policy_file, "--group", "osaka"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  AgentProcess agent(pki_, dir_, *collector_, "t-exc-1", "osaka/suita");
  agent.Plug("stick", StickYaml(kStick));
  agent.Start();
  ASSERT_TRUE(WaitForStick("t-exc-1", v1::ACTION_BLOCK, "default")) << agent.Log();

  // Bad requests name what is wrong.
  CommandResult bad =
      collector_->Ctl({"exception", "request", "--terminal", "t-exc-1", "--vid-pid", "0781:5581",
                       "--serial", kStick, "--until", "+9d", "--reason", "x", "--for", "y"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("longer than the 168 hours"), std::string::npos) << bad.err;

  // The window: long enough to see the stick allowed and replugged, short
  // enough to see it end.
  CommandResult requested = collector_->Ctl(
      {"exception", "request", "--terminal", "t-exc-1", "--vid-pid", "0781:5581", "--serial",
       kStick, "--until", "+12s", "--reason", "監査資料の受け渡し", "--for", "山田太郎"});
  ASSERT_EQ(requested.exit_code, 0) << requested.err;
  EXPECT_NE(requested.out.find("EX-1 is requested"), std::string::npos) << requested.out;

  CommandResult approved = collector_->Ctl({"exception", "approve", "EX-1", "--note", "承認"});
  ASSERT_EQ(approved.exit_code, 0) << approved.err;
  EXPECT_NE(approved.out.find("New policy versions: osaka v2"), std::string::npos) << approved.out;

  ASSERT_TRUE(WaitForStick("t-exc-1", v1::ACTION_ALLOW, "exception:EX-1", seconds(8)))
      << agent.Log();

  // Unplugged and plugged again inside the window: still allowed.
  agent.Unplug("stick");
  ASSERT_TRUE(WaitUntil([&] { return !StickDecision("t-exc-1").has_value(); }, seconds(5)));
  agent.Plug("stick", StickYaml(kStick));
  ASSERT_TRUE(WaitForStick("t-exc-1", v1::ACTION_ALLOW, "exception:EX-1", seconds(5)))
      << agent.Log();

  // The agent ends the window by itself and blocks the stick while plugged.
  ASSERT_TRUE(WaitForStick("t-exc-1", v1::ACTION_BLOCK, "default", seconds(20))) << agent.Log();
  ASSERT_TRUE(WaitUntil([&] { return !Events("t-exc-1", v1::EVENT_KIND_EXCEPTION_ENDED).empty(); },
                        seconds(10)));
  const auto started = Events("t-exc-1", v1::EVENT_KIND_EXCEPTION_STARTED);
  ASSERT_EQ(started.size(), 1u);  // once per window, not once per plug
  EXPECT_NE(started[0].detail().find("exception EX-1"), std::string::npos) << started[0].detail();
  const auto ended = Events("t-exc-1", v1::EVENT_KIND_EXCEPTION_ENDED);
  EXPECT_NE(ended[0].detail().find("its window ended"), std::string::npos) << ended[0].detail();

  CommandResult listed = collector_->Ctl({"exception", "list", "--terminal", "t-exc-1"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("EX-1"), std::string::npos);
  EXPECT_NE(listed.out.find("ended"), std::string::npos) << listed.out;

  CommandResult audit = collector_->Ctl({"audit", "--action", "exception.approve"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_NE(audit.out.find("EX-1"), std::string::npos) << audit.out;
  // The use and the end on the terminal are audit records too, once each.
  for (const char* action : {"exception.start", "exception.end"}) {
    CommandResult used = collector_->Ctl({"audit", "--action", action, "--output", "json"});
    ASSERT_EQ(used.exit_code, 0) << used.err;
    EXPECT_NE(used.out.find("terminal:t-exc-1"), std::string::npos) << action << used.out;
    EXPECT_NE(used.out.find("EX-1"), std::string::npos) << action << used.out;
    const std::size_t first = used.out.find("\"action\"");
    EXPECT_EQ(used.out.find("\"action\"", first + 1), std::string::npos)
        << action << " recorded more than once: " << used.out;
  }

  // Refused and cancelled requests never reach a policy.
  ASSERT_EQ(collector_
                ->Ctl({"exception", "request", "--terminal", "t-exc-1", "--vid-pid", "0781:5581",
                       "--serial", kStick, "--until", "+1h", "--reason", "r", "--for", "f"})
                .exit_code,
            0);
  CommandResult refused = collector_->Ctl({"exception", "refuse", "2"});
  EXPECT_NE(refused.exit_code, 0);  // a note is required
  refused = collector_->Ctl({"exception", "refuse", "2", "--note", "不要"});
  ASSERT_EQ(refused.exit_code, 0) << refused.err;
  EXPECT_NE(refused.out.find("EX-2 is refused"), std::string::npos) << refused.out;
  EXPECT_EQ(refused.out.find("New policy versions"), std::string::npos) << refused.out;
}

}  // namespace
}  // namespace mamori::testing
