// Keeps the shipped examples loadable: a sample that does not parse is the
// first thing a new deployment trips over.

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/app/agent_config.h"
#include "agent/platform/sim/sim_device_backend.h"
#include "common/crypto/credentials.h"
#include "common/policy/policy.h"
#include "common/policy/policy_parser.h"
#include "common/policy/rule_engine.h"

namespace mamori {
namespace {

namespace fs = std::filesystem;

fs::path RepoRoot() { return fs::path(MAMORI_SOURCE_DIR); }

Result<SimulatedDevice> LoadDevice(const std::string& name) {
  const fs::path path = RepoRoot() / "examples" / "devices" / (name + ".yaml");
  auto text = ReadFileToString(path.string());
  if (!text.ok()) return text.error();
  return ParseSimulatedDevice(*text, path.string(), name);
}

TEST(ExamplesTest, AgentConfigParses) {
  const fs::path path = RepoRoot() / "examples" / "agent.yaml";
  auto c = LoadAgentConfig(path.string());
  ASSERT_TRUE(c.ok()) << c.error().message;
  const std::string examples = (RepoRoot() / "examples").lexically_normal().string();
  EXPECT_EQ(c->tls.ca_file, examples + "/pki/ca.pem");
  EXPECT_EQ(c->device_directory, examples + "/devices");
  EXPECT_EQ(c->policy_file, examples + "/policies/default.yaml");
  EXPECT_EQ(c->policy_public_key_file, examples + "/pki/policy-signing.pub");
  EXPECT_EQ(c->mode, EnforcementMode::kEnforce);
}

TEST(ExamplesTest, SampleDevicesParseAndMeetTheDefaultPolicyAsDocumented) {
  const fs::path policy_path = RepoRoot() / "examples" / "policies" / "default.yaml";
  auto policy_text = ReadFileToString(policy_path.string());
  ASSERT_TRUE(policy_text.ok()) << policy_text.error().message;
  auto policy = ParsePolicy(*policy_text, policy_path.string());
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  const int64_t now = 1'767'225'600'000;  // 2026-01-01, before the ledger expiry

  auto sandisk = LoadDevice("sandisk-registered");
  ASSERT_TRUE(sandisk.ok()) << sandisk.error().message;
  EXPECT_EQ(Evaluate(*policy, sandisk->device.identity, now).action, Action::kAllow);
  EXPECT_EQ(Evaluate(BuiltinDefaultPolicy(), sandisk->device.identity, now).action, Action::kBlock);

  auto unknown = LoadDevice("unknown-stick");
  ASSERT_TRUE(unknown.ok()) << unknown.error().message;
  EXPECT_EQ(unknown->device.identity.serial, std::string("AB\0\xff\xfe"
                                                         "C",
                                                         6));
  EXPECT_EQ(Evaluate(*policy, unknown->device.identity, now).action, Action::kBlock);

  auto keyboard = LoadDevice("keyboard");
  ASSERT_TRUE(keyboard.ok()) << keyboard.error().message;
  EXPECT_EQ(Evaluate(*policy, keyboard->device.identity, now).action, Action::kAllow);
}

}  // namespace
}  // namespace mamori
