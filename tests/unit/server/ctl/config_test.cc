#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/ctl/ctl_config.h"
#include "tests/support/temp_dir.h"

namespace mamori::ctl {
namespace {

using ::mamori::testing::TempDir;
using ::testing::HasSubstr;

ParsedArgs Args(std::vector<std::string> argv) {
  Result<ParsedArgs> r = ParseArgs(argv, ConnectionOptionSpecs());
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : ParsedArgs{};
}

constexpr std::string_view kConfig =
    "collector:\n"
    "  address: collector.example.lg.jp:7443\n"
    "tls:\n"
    "  ca_file: ca.pem\n"
    "  cert_file: /abs/admin.pem\n"
    "  key_file: keys/admin.key\n";

TEST(ResolveConnectionTest, ReadsConfigFileWithRelativePaths) {
  TempDir dir;
  const std::string config = dir.Write("ctl.yaml", kConfig);
  Result<ConnectionSettings> s = ResolveConnection(Args({"--config", config}), std::nullopt);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->address, "collector.example.lg.jp:7443");
  EXPECT_EQ(s->server_name, "collector.example.lg.jp");  // defaults to the host
  EXPECT_EQ(s->tls.ca_file, dir.path() + "/ca.pem");
  EXPECT_EQ(s->tls.cert_file, "/abs/admin.pem");
  EXPECT_EQ(s->tls.key_file, dir.path() + "/keys/admin.key");
  EXPECT_EQ(s->timeout_ms, 10'000);
}

TEST(ResolveConnectionTest, FlagsOverrideFile) {
  TempDir dir;
  const std::string config = dir.Write("ctl.yaml", kConfig);
  Result<ConnectionSettings> s =
      ResolveConnection(Args({"--config", config, "--collector", "127.0.0.1:9000", "--server-name",
                              "localhost", "--key", "other.key", "--timeout", "3"}),
                        std::nullopt);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->address, "127.0.0.1:9000");
  EXPECT_EQ(s->server_name, "localhost");
  EXPECT_EQ(s->tls.key_file, "other.key");  // flags are relative to the cwd
  EXPECT_EQ(s->tls.ca_file, dir.path() + "/ca.pem");
  EXPECT_EQ(s->timeout_ms, 3000);
}

TEST(ResolveConnectionTest, EnvironmentNamesDefaultFileAndConfigFlagWins) {
  TempDir dir;
  const std::string from_env = dir.Write("env.yaml", kConfig);
  const std::string from_flag =
      dir.Write("flag.yaml",
                "collector: {address: \"[::1]:7443\", server_name: collector}\n"
                "tls: {ca_file: a, cert_file: b, key_file: c}\n");
  Result<ConnectionSettings> env = ResolveConnection(Args({}), from_env);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->address, "collector.example.lg.jp:7443");

  Result<ConnectionSettings> flag = ResolveConnection(Args({"--config", from_flag}), from_env);
  ASSERT_TRUE(flag.ok()) << flag.error().message;
  EXPECT_EQ(flag->address, "[::1]:7443");
  EXPECT_EQ(flag->server_name, "collector");

  // An empty variable counts as unset.
  Result<ConnectionSettings> empty = ResolveConnection(Args({}), std::string());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
}

TEST(ResolveConnectionTest, MissingSettingsAreUsageErrors) {
  Result<ConnectionSettings> s =
      ResolveConnection(Args({"--ca", "a", "--cert", "b"}), std::nullopt);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.error().message, HasSubstr("--collector HOST:PORT"));

  s = ResolveConnection(Args({"--collector", "h:1", "--ca", "a", "--cert", "b"}), std::nullopt);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("tls.key_file"));

  s = ResolveConnection(
      Args({"--collector", "h:1", "--ca", "a", "--cert", "b", "--key", "c", "--timeout", "0"}),
      std::nullopt);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("--timeout"));
}

TEST(ResolveConnectionTest, ConfigFileProblemsAreReported) {
  TempDir dir;
  Result<ConnectionSettings> missing =
      ResolveConnection(Args({"--config", dir.File("nope.yaml")}), std::nullopt);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr(dir.File("nope.yaml")));
  EXPECT_NE(missing.error().code, ErrorCode::kInvalidArgument);

  const std::string typo = dir.Write("typo.yaml", "collector:\n  adress: x:1\n");
  Result<ConnectionSettings> bad = ResolveConnection(Args({"--config", typo}), std::nullopt);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("typo.yaml:2"));
  EXPECT_THAT(bad.error().message, HasSubstr("adress"));
}

TEST(ParseHostPortTest, Forms) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:7443")->host, "127.0.0.1");
  EXPECT_EQ(ParseHostPort("127.0.0.1:7443")->port, 7443);
  EXPECT_EQ(ParseHostPort("[::1]:7443")->host, "::1");
  EXPECT_EQ(ParseHostPort("collector.example.lg.jp:443")->host, "collector.example.lg.jp");
  EXPECT_FALSE(ParseHostPort("nohost").ok());
  EXPECT_FALSE(ParseHostPort(":7443").ok());
  EXPECT_FALSE(ParseHostPort("h:0").ok());
  EXPECT_FALSE(ParseHostPort("h:70000").ok());
  EXPECT_FALSE(ParseHostPort("::1:7443").ok());
  EXPECT_FALSE(ParseHostPort("[::1]7443").ok());
}

}  // namespace
}  // namespace mamori::ctl
