#include "agent/app/agent_config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using std::chrono::milliseconds;
using testing::TempDir;

constexpr std::string_view kFull = R"(collector:
  address: collector.example.lg.jp:7443
  server_name: collector
tls:
  ca_file: pki/ca.pem
  cert_file: /etc/mamori/agent.pem
  key_file: pki/agent.key
report:
  interval: 30s
  jitter_percent: 20
backoff:
  initial: 500ms
  max: 2m
devices:
  backend: simulated
  directory: devices
enforcement:
  mode: audit_only
policy_file: policy.yaml
state_dir: state
log:
  level: debug
  format: json
  file: log/agent.log
policy:
  public_key_file: pki/policy-signing.pub
)";

constexpr std::string_view kMinimal = R"(collector:
  address: 127.0.0.1:7443
tls: {ca_file: ca.pem, cert_file: agent.pem, key_file: agent.key}
state_dir: /var/lib/mamori-agent
policy: {public_key_file: /etc/mamori/policy-signing.pub}
)";

TEST(AgentConfigTest, FullFileParsesAndResolvesRelativePaths) {
  auto c = ParseAgentConfig(kFull, "/etc/mamori/agent.yaml", "/etc/mamori");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->collector_address, "collector.example.lg.jp:7443");
  EXPECT_EQ(c->server_name, "collector");
  EXPECT_EQ(c->tls.ca_file, "/etc/mamori/pki/ca.pem");
  EXPECT_EQ(c->tls.cert_file, "/etc/mamori/agent.pem");
  EXPECT_EQ(c->tls.key_file, "/etc/mamori/pki/agent.key");
  EXPECT_EQ(c->report_interval, milliseconds(30000));
  EXPECT_EQ(c->jitter_percent, 20);
  EXPECT_EQ(c->backoff_initial, milliseconds(500));
  EXPECT_EQ(c->backoff_max, milliseconds(120000));
  EXPECT_EQ(c->device_backend, "simulated");
  EXPECT_EQ(c->device_directory, "/etc/mamori/devices");
  EXPECT_EQ(c->mode, EnforcementMode::kAuditOnly);
  EXPECT_EQ(c->policy_file, "/etc/mamori/policy.yaml");
  EXPECT_EQ(c->state_dir, "/etc/mamori/state");
  EXPECT_EQ(c->log.level, "debug");
  EXPECT_EQ(c->log.format, "json");
  EXPECT_EQ(c->log.file, "/etc/mamori/log/agent.log");
  EXPECT_EQ(c->policy_public_key_file, "/etc/mamori/pki/policy-signing.pub");
}

TEST(AgentConfigTest, MinimalFileGetsDefaults) {
  auto c = ParseAgentConfig(kMinimal, "agent.yaml", "/opt/m");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server_name, "");
  EXPECT_EQ(c->report_interval, milliseconds(60000));
  EXPECT_EQ(c->jitter_percent, 10);
  EXPECT_EQ(c->backoff_initial, milliseconds(1000));
  EXPECT_EQ(c->backoff_max, milliseconds(60000));
  EXPECT_EQ(c->mode, EnforcementMode::kEnforce);
  EXPECT_EQ(c->device_directory, "/var/lib/mamori/sim-devices");
  EXPECT_EQ(c->policy_file, "");
  EXPECT_EQ(c->log.level, "info");
  EXPECT_EQ(c->log.file, "");
  EXPECT_EQ(c->outbox_max_events, 10000u);
}

TEST(AgentConfigTest, OutboxBoundIsConfigurableWithinLimits) {
  auto c = ParseAgentConfig(std::string(kMinimal) + "outbox: {max_events: 500}\n", "agent.yaml",
                            "/opt/m");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->outbox_max_events, 500u);
  auto tiny =
      ParseAgentConfig(std::string(kMinimal) + "outbox: {max_events: 5}\n", "agent.yaml", "/opt/m");
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.error().message.find("agent.yaml:6:22: outbox.max_events"), std::string::npos)
      << tiny.error().message;
}

TEST(AgentConfigTest, UnlockSectionIsOptionalAndResolvesPaths) {
  auto none = ParseAgentConfig(kMinimal, "agent.yaml", "/opt/m");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->unlock_public_key_file, "");
  EXPECT_EQ(none->unlock_socket, "/run/mamori/unlock.sock");
  auto c = ParseAgentConfig(
      std::string(kMinimal) + "unlock: {public_key_file: pki/unlock.pub, socket: run/u.sock}\n",
      "agent.yaml", "/opt/m");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->unlock_public_key_file, "/opt/m/pki/unlock.pub");
  EXPECT_EQ(c->unlock_socket, "/opt/m/run/u.sock");
  auto typo = ParseAgentConfig(std::string(kMinimal) + "unlock: {public_keyfile: x}\n",
                               "agent.yaml", "/opt/m");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().message.find("public_keyfile"), std::string::npos) << typo.error().message;
}

TEST(AgentConfigTest, LoadsFromAFileRelativeToItsDirectory) {
  TempDir dir;
  const std::string path = dir.Write("agent.yaml", kMinimal);
  auto c = LoadAgentConfig(path);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->tls.ca_file, dir.File("ca.pem"));
  EXPECT_EQ(c->source, path);
}

TEST(AgentConfigTest, MissingFileNamesThePath) {
  auto c = LoadAgentConfig("/nonexistent/agent.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/nonexistent/agent.yaml"), std::string::npos);
}

struct BadField {
  std::string replace;  // text in kFull to replace
  std::string with;
  std::string expected;  // "line:column: field"
};

class AgentConfigErrorTest : public ::testing::TestWithParam<BadField> {};

TEST_P(AgentConfigErrorTest, ErrorNamesFileLineAndField) {
  std::string text(kFull);
  const auto pos = text.find(GetParam().replace);
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, GetParam().replace.size(), GetParam().with);
  auto c = ParseAgentConfig(text, "agent.yaml", "/etc/mamori");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("agent.yaml:" + GetParam().expected), std::string::npos)
      << c.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, AgentConfigErrorTest,
    ::testing::Values(
        BadField{"collector.example.lg.jp:7443", "collector", "2:12: collector.address"},
        BadField{"collector.example.lg.jp:7443", "host:99999", "2:12: collector.address"},
        BadField{"  server_name: collector", "  server: collector", "3:3: collector.server"},
        BadField{"  cert_file: /etc/mamori/agent.pem\n", "", "5:3: tls.cert_file"},
        BadField{"interval: 30s", "interval: 30 seconds", "9:13: report.interval"},
        BadField{"interval: 30s", "interval: 100ms", "9:13: report.interval"},
        BadField{"jitter_percent: 20", "jitter_percent: 80", "10:19: report.jitter_percent"},
        BadField{"max: 2m", "max: 100ms", "13:8: backoff.max"},
        BadField{"backend: simulated", "backend: floppy", "15:12: devices.backend"},
        BadField{"mode: audit_only", "mode: lenient", "18:9: enforcement.mode"},
        BadField{"state_dir: state\n", "", "1:1: state_dir"},
        BadField{"level: debug", "level: loud", "22:10: log.level"},
        BadField{"format: json", "format: xml", "23:11: log.format"},
        BadField{"policy_file: policy.yaml", "policy_files: policy.yaml", "19:1: policy_files"},
        BadField{"tls:\n  ca_file: pki/ca.pem\n  cert_file: /etc/mamori/agent.pem\n"
                 "  key_file: pki/agent.key\n",
                 "", "1:1: tls: required section"},
        BadField{"policy:\n  public_key_file: pki/policy-signing.pub\n", "",
                 "1:1: policy: required section is missing: policy.public_key_file"},
        BadField{"  public_key_file: pki/policy-signing.pub", "  public_key: pki/p.pub",
                 "26:3: policy.public_key"}));

TEST(AgentConfigTest, ClockSkewBoundForExceptionsIsBoundedAndDefaultsToFiveMinutes) {
  auto c = ParseAgentConfig(kMinimal, "agent.yaml", "/");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->max_clock_skew, milliseconds(300'000));
  c = ParseAgentConfig(std::string(kMinimal) + "enforcement: {max_clock_skew: 2m}\n", "agent.yaml",
                       "/");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->max_clock_skew, milliseconds(120'000));
  for (const char* bad : {"1s", "2h", "soon"}) {
    c = ParseAgentConfig(std::string(kMinimal) + "enforcement: {max_clock_skew: " + bad + "}\n",
                         "agent.yaml", "/");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.error().message.find("enforcement.max_clock_skew"), std::string::npos)
        << c.error().message;
  }
}

TEST(AgentConfigTest, ReportsEveryProblemAtOnce) {
  std::string text(kFull);
  text.replace(text.find("mode: audit_only"), 16, "mode: lenient");
  text.replace(text.find("level: debug"), 12, "level: loud");
  auto c = ParseAgentConfig(text, "agent.yaml", "/");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("enforcement.mode"), std::string::npos);
  EXPECT_NE(c.error().message.find("log.level"), std::string::npos);
}

std::string WithDevices(std::string_view devices) {
  return std::string(kMinimal) + "devices:\n" + std::string(devices);
}

TEST(AgentConfigTest, LinuxBackendIsTheDefaultWithoutADeviceDirectory) {
  auto c = ParseAgentConfig(kMinimal, "agent.yaml", "/opt/m");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->device_backend, "linux");
  EXPECT_EQ(c->sysfs_root, "/sys");
  EXPECT_EQ(c->dev_root, "/dev");
}

TEST(AgentConfigTest, ADeviceDirectoryAloneMeansSimulated) {
  auto c = ParseAgentConfig(WithDevices("  directory: devs\n"), "agent.yaml", "/opt/m");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->device_backend, "simulated");
  EXPECT_EQ(c->device_directory, "/opt/m/devs");
}

TEST(AgentConfigTest, LinuxBackendRootsAreConfigurable) {
  auto c = ParseAgentConfig(
      WithDevices("  backend: linux\n  sysfs_root: fixture/sys\n  dev_root: /tmp/dev\n"),
      "agent.yaml", "/opt/m");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->device_backend, "linux");
  EXPECT_EQ(c->sysfs_root, "/opt/m/fixture/sys");
  EXPECT_EQ(c->dev_root, "/tmp/dev");
}

TEST(AgentConfigTest, DeviceKeysOfTheOtherBackendAreErrors) {
  struct Case {
    std::string devices;
    std::string expected;
  };
  for (const Case& k : std::vector<Case>{
           {"  backend: linux\n  directory: devs\n", "devices.directory: applies only"},
           {"  backend: simulated\n  sysfs_root: /sys\n", "devices.sysfs_root: applies only"},
           {"  directory: devs\n  dev_root: /dev\n", "devices.dev_root: applies only"},
           {"  backend: linux\n  sysfs_root: \"\"\n", "devices.sysfs_root: must not be empty"},
           {"  backend: windows\n", "available: simulated, linux"},
       }) {
    auto c = ParseAgentConfig(WithDevices(k.devices), "agent.yaml", "/");
    ASSERT_FALSE(c.ok()) << k.devices;
    EXPECT_NE(c.error().message.find(k.expected), std::string::npos) << c.error().message;
  }
}

TEST(AgentConfigTest, SyntaxErrorIsLocated) {
  auto c = ParseAgentConfig("collector: [unclosed\n", "agent.yaml", "/");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("agent.yaml:"), std::string::npos);
  EXPECT_NE(c.error().message.find("syntax"), std::string::npos);
}

}  // namespace
}  // namespace mamori
