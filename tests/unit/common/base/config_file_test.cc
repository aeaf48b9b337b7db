// What the agent's and the collector's configuration files share
// (common/base/config_file.h).
#include "common/base/config_file.h"

#include <gtest/gtest.h>

namespace mamori {
namespace {

TEST(ConfigFileTest, RelativePathsAreRelativeToTheFilesDirectory) {
  EXPECT_EQ(ResolveConfigPath("/etc/mamori", "certs/ca.pem"), "/etc/mamori/certs/ca.pem");
  EXPECT_EQ(ResolveConfigPath("/etc/mamori", "../state/x"), "/etc/state/x");
  EXPECT_EQ(ResolveConfigPath("/etc/mamori", "/var/lib/mamori//db"), "/var/lib/mamori/db");
  EXPECT_EQ(ResolveConfigPath("/etc/mamori", ""), "");
  EXPECT_EQ(ResolveConfigPath("", "a/./b"), "a/b");
}

TEST(ConfigFileTest, LogSectionIsReadAndCheckedWithLineAndField) {
  YamlReader r("collector.yaml");
  const YAML::Node root = r.Load("log:\n  level: debug\n  format: json\n  file: logs/c.log\n");
  LogConfig log;
  ReadLogSection(r, root["log"], "/srv", log);
  ASSERT_TRUE(r.ok()) << r.ToError().message;
  EXPECT_EQ(log.level, "debug");
  EXPECT_EQ(log.format, "json");
  EXPECT_EQ(log.file, "/srv/logs/c.log");

  YamlReader bad("collector.yaml");
  const YAML::Node broken = bad.Load("log:\n  level: verbose\n  format: xml\n");
  LogConfig unchanged;
  ReadLogSection(bad, broken["log"], "/srv", unchanged);
  ASSERT_FALSE(bad.ok());
  const std::string message = bad.ToError().message;
  EXPECT_NE(message.find("collector.yaml:2"), std::string::npos) << message;
  EXPECT_NE(message.find("log.level"), std::string::npos) << message;
  EXPECT_NE(message.find(std::string(kLogLevels)), std::string::npos) << message;
  EXPECT_NE(message.find("log.format"), std::string::npos) << message;
  EXPECT_EQ(unchanged.level, "info");
}

TEST(ConfigFileTest, AbsentLogSectionKeepsTheDefaults) {
  YamlReader r("agent.yaml");
  const YAML::Node root = r.Load("state_dir: /x\n");
  LogConfig log;
  ReadLogSection(r, root["log"], "/srv", log);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(log.level, "info");
  EXPECT_EQ(log.format, "text");
  EXPECT_EQ(log.file, "");
}

TEST(ConfigFileTest, LogLevelsAreSpdlogsNames) {
  for (const char* l : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_TRUE(IsLogLevel(l)) << l;
  }
  for (const char* l : {"", "warning", "INFO", "err", "verbose"}) EXPECT_FALSE(IsLogLevel(l)) << l;
  EXPECT_TRUE(CheckLogLevel("warn").ok());
  const Status bad = CheckLogLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message,
            "unknown level 'verbose' (expected " + std::string(kLogLevels) + ")");
}

}  // namespace
}  // namespace mamori
