// The dashboard's capacity settings and where its requests run.

#include <gtest/gtest.h>

#include "server/app/collector_config.h"
#include "server/web/http_handler.h"

namespace mamori {
namespace {

constexpr std::string_view kBase =
    "listen: 127.0.0.1:7443\ntls: {ca_file: ca.pem, cert_file: c.pem, key_file: c.key}\n"
    "policy: {signing_key_file: p.key}\n"
    "web:\n  cert_file: web.pem\n  key_file: web.key\n";

TEST(WebCapacityConfigTest, DefaultsAndSettings) {
  auto defaults = ParseCollectorConfig(kBase, "c.yaml", "/etc/mamori");
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  EXPECT_EQ(defaults->web.workers, 4);
  EXPECT_EQ(defaults->web.max_connections, 256);
  auto set = ParseCollectorConfig(std::string(kBase) + "  workers: 8\n  max_connections: 1000\n",
                                  "c.yaml", "/etc/mamori");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->web.workers, 8);
  EXPECT_EQ(set->web.max_connections, 1000);
}

TEST(WebCapacityConfigTest, PerAddressShareAndTimeouts) {
  auto defaults = ParseCollectorConfig(kBase, "c.yaml", "/etc/mamori");
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  EXPECT_EQ(defaults->web.EffectiveMaxConnectionsPerAddress(), 32);  // 256 / 8
  EXPECT_EQ(defaults->web.handshake_timeout_ms, 5'000);
  EXPECT_EQ(defaults->web.request_timeout_ms, 10'000);
  EXPECT_EQ(defaults->web.idle_timeout_ms, 30'000);
  auto small =
      ParseCollectorConfig(std::string(kBase) + "  max_connections: 40\n", "c.yaml", "/etc/mamori");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->web.EffectiveMaxConnectionsPerAddress(), 8);  // at least a browser's worth
  auto tiny =
      ParseCollectorConfig(std::string(kBase) + "  max_connections: 3\n", "c.yaml", "/etc/mamori");
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny->web.EffectiveMaxConnectionsPerAddress(), 3);
  auto set = ParseCollectorConfig(std::string(kBase) +
                                      "  max_connections_per_address: 4\n"
                                      "  handshake_timeout: 2s\n  request_timeout: 3s\n"
                                      "  idle_timeout: 2m\n",
                                  "c.yaml", "/etc/mamori");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->web.EffectiveMaxConnectionsPerAddress(), 4);
  EXPECT_EQ(set->web.handshake_timeout_ms, 2'000);
  EXPECT_EQ(set->web.request_timeout_ms, 3'000);
  EXPECT_EQ(set->web.idle_timeout_ms, 120'000);
  for (const char* line : {"  handshake_timeout: 0s\n", "  request_timeout: 1h\n",
                           "  max_connections_per_address: 0\n"}) {
    auto bad = ParseCollectorConfig(std::string(kBase) + line, "c.yaml", "/etc/mamori");
    ASSERT_FALSE(bad.ok()) << line;
    const std::string field = std::string(line).substr(2, std::string(line).find(':') - 2);
    EXPECT_NE(bad.error().message.find("web." + field), std::string::npos) << bad.error().message;
  }
}

TEST(WebCapacityConfigTest, OutOfRangeNamesTheField) {
  for (const char* line : {"  workers: 0\n", "  workers: 65\n", "  max_connections: 0\n",
                           "  max_connections: many\n"}) {
    auto bad = ParseCollectorConfig(std::string(kBase) + line, "c.yaml", "/etc/mamori");
    ASSERT_FALSE(bad.ok()) << line;
    const std::string field = std::string(line).substr(2, std::string(line).find(':') - 2);
    EXPECT_NE(bad.error().message.find("c.yaml:7"), std::string::npos) << bad.error().message;
    EXPECT_NE(bad.error().message.find("web." + field), std::string::npos) << bad.error().message;
  }
}

web::HttpRequest Request(std::string_view target) {
  web::HttpRequest r{boost::beast::http::verb::get,
                     boost::beast::string_view(target.data(), target.size()), 11};
  return r;
}

TEST(WorkKindTest, StaticInlineApiOnWorkersLoginOnItsLane) {
  EXPECT_EQ(web::WorkKindOf(Request("/")), web::WorkKind::kInline);
  EXPECT_EQ(web::WorkKindOf(Request("/app.css")), web::WorkKind::kInline);
  EXPECT_EQ(web::WorkKindOf(Request("/i18n/ja.json")), web::WorkKind::kInline);
  EXPECT_EQ(web::WorkKindOf(Request("/api/terminals?group=a")), web::WorkKind::kQuery);
  EXPECT_EQ(web::WorkKindOf(Request("/api/overview")), web::WorkKind::kQuery);
  EXPECT_EQ(web::WorkKindOf(Request("/api/login")), web::WorkKind::kLogin);
  EXPECT_EQ(web::WorkKindOf(Request("/api/login?x=1")), web::WorkKind::kLogin);
  EXPECT_EQ(web::WorkKindOf(Request("/api/loginx")), web::WorkKind::kQuery);
}

}  // namespace
}  // namespace mamori
