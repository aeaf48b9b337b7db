// collector.keepalive in the agent's configuration: defaults that notice a
// dead collector within a minute, and bounds the collector accepts.

#include <gtest/gtest.h>

#include <string>

#include "agent/app/agent_config.h"

namespace mamori {
namespace {

using std::chrono::milliseconds;

std::string Config(const std::string& keepalive) {
  return "collector:\n  address: 127.0.0.1:7443\n" + keepalive +
         "tls:\n  ca_file: ca.pem\n  cert_file: a.pem\n  key_file: a.key\nstate_dir: state\n"
         "policy:\n  public_key_file: policy-signing.pub\n";
}

TEST(AgentKeepaliveConfigTest, DefaultNoticesADeadCollectorWithinAMinute) {
  auto c = ParseAgentConfig(Config(""), "agent.yaml", "/opt/m");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->keepalive_time, milliseconds(30'000));
  EXPECT_EQ(c->keepalive_timeout, milliseconds(10'000));
  EXPECT_LE(c->keepalive_time + c->keepalive_timeout, milliseconds(60'000));
}

TEST(AgentKeepaliveConfigTest, IntervalsAreConfigurable) {
  auto c = ParseAgentConfig(Config("  keepalive:\n    time: 5s\n    timeout: 2s\n"), "agent.yaml",
                            "/opt/m");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->keepalive_time, milliseconds(5'000));
  EXPECT_EQ(c->keepalive_timeout, milliseconds(2'000));
}

TEST(AgentKeepaliveConfigTest, PingsMoreOftenThanTheCollectorAllowsAreRefused) {
  auto c = ParseAgentConfig(Config("  keepalive:\n    time: 1s\n    timeout: 100ms\n    x: 1\n"),
                            "agent.yaml", "/opt/m");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("collector.keepalive.time"), std::string::npos)
      << c.error().message;
  EXPECT_NE(c.error().message.find("collector.keepalive.timeout"), std::string::npos)
      << c.error().message;
}

}  // namespace
}  // namespace mamori
