// Signed policies with real processes: an agent refuses a bundle from a
// collector holding another policy key, and an agent restarted while the
// collector is down enforces its cached policy.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <string>

#include "tests/integration/collector_test.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

using std::chrono::seconds;

constexpr char kRegisteredSerial[] = "4C530001231120115142";

// Allows the registered stick, which the built-in default blocks.
std::string AllowStickPolicy() {
  return std::string(
             "name: allow-registered\n"
             "rules:\n"
             "  - name: registered-sticks\n"
             "    match:\n"
             "      serial: \"") +
         kRegisteredSerial + "\"\n    action: allow\n";
}

std::size_t Count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

class PolicySigningTest : public CollectorTest {
 protected:
  // Each test starts the collector it needs.
  void SetUp() override {}

  std::optional<v1::Action> StickAction(const std::string& terminal) {
    auto t = Terminal(terminal);
    if (!t) return std::nullopt;
    for (const auto& d : t->devices()) {
      if (d.device_id() == "stick") return d.decision().action();
    }
    return std::nullopt;
  }
};

TEST_F(PolicySigningTest, BundleSignedWithAnotherKeyIsRefusedAndReported) {
  collector_ = std::make_unique<CollectorProcess>(pki_, dir_);
  // The collector signs with a key the agents do not pin.
  collector_->UsePolicySigningKey(pki_.IssuePolicyKey("rogue-policy-key").key);
  ASSERT_TRUE(collector_->Start()) << collector_->Log();
  admin_ = collector_->Admin(pki_.Admin());

  AgentProcess a(pki_, dir_, *collector_, "pinned-001", "osaka");
  a.Plug("stick", StickYaml(kRegisteredSerial));
  a.Start();
  ASSERT_TRUE(WaitUntil([&] { return StickAction("pinned-001") == v1::ACTION_BLOCK; }, seconds(20)))
      << a.Log();

  const std::string policy = dir_.Write("allow.yaml", AllowStickPolicy());
  CommandResult applied = collector_->Ctl({"policy", "apply", policy, "--group", "osaka"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;

  CommandResult events;
  ASSERT_TRUE(WaitUntil(
      [&] {
        events = collector_->Ctl({"events", "--terminal", "pinned-001", "--kind", "policy_rejected",
                                  "--output", "json"});
        return events.exit_code == 0 &&
               events.out.find("not the pinned policy key") != std::string::npos;
      },
      seconds(20)))
      << events.out << events.err << a.Log();
  EXPECT_NE(events.out.find("policy version 1 of group osaka rejected"), std::string::npos)
      << events.out;

  // The policy in force stays: the stick is still blocked, version 0.
  auto t = Terminal("pinned-001");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->summary().applied_policy_version(), 0u);
  EXPECT_EQ(StickAction("pinned-001"), v1::ACTION_BLOCK);
  EXPECT_NE(a.Log().find("not the pinned policy key"), std::string::npos);

  a.process().Signal(SIGTERM);
  EXPECT_EQ(a.process().Wait(seconds(10)), 0) << a.Log();
}

TEST_F(PolicySigningTest, AgentRestartedWhileTheCollectorIsDownEnforcesTheCachedPolicy) {
  collector_ = std::make_unique<CollectorProcess>(pki_, dir_);
  ASSERT_TRUE(collector_->Start()) << collector_->Log();
  admin_ = collector_->Admin(pki_.Admin());

  AgentProcess a(pki_, dir_, *collector_, "cached-001", "osaka");
  a.Plug("stick", StickYaml(kRegisteredSerial));
  a.Start();
  ASSERT_TRUE(WaitUntil([&] { return StickAction("cached-001") == v1::ACTION_BLOCK; }, seconds(20)))
      << a.Log();
  const std::string policy = dir_.Write("allow.yaml", AllowStickPolicy());
  ASSERT_EQ(collector_->Ctl({"policy", "apply", policy, "--group", "osaka"}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return StickAction("cached-001") == v1::ACTION_ALLOW; }, seconds(20)))
      << a.Log();

  // Both stop; the agent comes back first, with no collector to ask.
  a.process().Signal(SIGTERM);
  ASSERT_EQ(a.process().Wait(seconds(10)), 0) << a.Log();
  collector_->process().Signal(SIGTERM);
  ASSERT_EQ(collector_->process().Wait(seconds(10)), 0) << collector_->Log();
  const std::string allowed = "allow by rule 'registered-sticks'";
  const std::size_t allowed_before = Count(a.Log(), allowed);
  const std::size_t blocked_before = Count(a.Log(), "block by rule 'default'");

  a.Start();
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string log = a.Log();
        return log.find("enforcing cached policy version 1 of group osaka") != std::string::npos &&
               Count(log, allowed) > allowed_before;
      },
      seconds(20)))
      << a.Log();
  // The built-in default would have blocked it: it never did this time.
  EXPECT_EQ(Count(a.Log(), "block by rule 'default'"), blocked_before) << a.Log();
  EXPECT_EQ(a.Log().find("rejected"), std::string::npos) << a.Log();

  // Once the collector is back, the record shows the agent started on the
  // cached policy and kept the stick allowed; nothing had to be re-sent.
  ASSERT_TRUE(collector_->Start()) << collector_->Log();
  admin_ = collector_->Admin(pki_.Admin());
  CommandResult started;
  ASSERT_TRUE(WaitUntil(
      [&] {
        started = collector_->Ctl(
            {"events", "--terminal", "cached-001", "--kind", "agent_started", "--output", "json"});
        return started.exit_code == 0 &&
               started.out.find("cached policy version 1 of group osaka") != std::string::npos;
      },
      seconds(20)))
      << started.out << started.err << a.Log();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto t = Terminal("cached-001");
        return t && t->summary().applied_policy_version() == 1u;
      },
      seconds(20)));
  EXPECT_EQ(StickAction("cached-001"), v1::ACTION_ALLOW);

  a.process().Signal(SIGTERM);
  EXPECT_EQ(a.process().Wait(seconds(10)), 0) << a.Log();
}

TEST(CollectorPolicyKeyTest, CollectorWithoutSigningKeyRefusesToStart) {
  TempDir dir;
  TestPki pki;
  const TlsPaths server = pki.Server();
  const std::string db = dir.File("x.db");
  const std::string cfg = dir.Write(
      "collector.yaml", "listen: 127.0.0.1:0\ntls:\n  ca_file: " + server.ca +
                            "\n  cert_file: " + server.cert + "\n  key_file: " + server.key +
                            "\nstore:\n  path: " + db + "\n");
  CommandResult r = RunCommand({MAMORI_COLLECTOR_BIN, "--config", cfg});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("policy.signing_key_file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mamorictl pki policy-key"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db));
}

TEST(CollectorPolicyKeyTest, MissingSigningKeyFileIsNamed) {
  TempDir dir;
  TestPki pki;
  const TlsPaths server = pki.Server();
  const std::string missing = dir.File("nowhere/policy-signing.key");
  const std::string cfg = dir.Write(
      "collector.yaml", "listen: 127.0.0.1:0\ntls:\n  ca_file: " + server.ca +
                            "\n  cert_file: " + server.cert + "\n  key_file: " + server.key +
                            "\npolicy:\n  signing_key_file: " + missing +
                            "\nstore:\n  path: " + dir.File("x.db") + "\n");
  CommandResult r = RunCommand({MAMORI_COLLECTOR_BIN, "--config", cfg});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("policy.signing_key_file " + missing), std::string::npos) << r.err;
  CommandResult check = RunCommand({MAMORI_COLLECTOR_BIN, "--config", cfg, "--check-config"});
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find(missing), std::string::npos) << check.err;
}

}  // namespace
}  // namespace mamori::testing
