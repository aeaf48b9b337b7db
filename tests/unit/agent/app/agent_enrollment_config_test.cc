// The enrollment section of agent.yaml: every way it can be wrong is an
// error that names file:line:column and the field.
#include <gtest/gtest.h>

#include <string>

#include "agent/app/agent_config.h"

namespace mamori {
namespace {

const std::string kPin =
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
const std::string kPinHex = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

std::string Config(const std::string& enrollment, const std::string& tls = "") {
  return "collector:\n  address: collector.example.lg.jp:7443\n" + tls + enrollment +
         "state_dir: /var/lib/mamori-agent\npolicy: {public_key_file: /etc/mamori/p.pub}\n";
}

Result<AgentConfig> Parse(const std::string& text) {
  return ParseAgentConfig(text, "/etc/mamori/agent.yaml", "/etc/mamori");
}

void ExpectError(const std::string& text, const std::string& where_and_field,
                 const std::string& what) {
  auto c = Parse(text);
  ASSERT_FALSE(c.ok()) << text;
  const std::string& m = c.error().message;
  EXPECT_NE(m.find(where_and_field), std::string::npos) << m;
  EXPECT_NE(m.find(what), std::string::npos) << m;
}

TEST(AgentEnrollmentConfigTest, EnrollmentReplacesTlsAndDefaultsThePort) {
  auto c = Parse(
      Config("enrollment:\n  ca_fingerprint: \"" + kPin + "\"\n  token_file: enroll-token\n"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(c->enrollment.has_value());
  EXPECT_EQ(c->enrollment->address, "collector.example.lg.jp:7444");
  EXPECT_EQ(c->enrollment->ca_fingerprint, kPinHex);
  EXPECT_EQ(c->enrollment->token_file, "/etc/mamori/enroll-token");
  EXPECT_EQ(c->enrollment->token, "");
  EXPECT_EQ(c->enrollment->terminal_id, "");
  EXPECT_EQ(IdentityDir(*c), "/var/lib/mamori-agent/identity");
  EXPECT_EQ(c->tls.key_file, "/var/lib/mamori-agent/identity/key.pem");
  EXPECT_EQ(c->tls.cert_file, "/var/lib/mamori-agent/identity/cert.pem");
  EXPECT_EQ(c->tls.ca_file, "/var/lib/mamori-agent/identity/ca.pem");
}

TEST(AgentEnrollmentConfigTest, ExplicitAddressInlineTokenAndTerminalId) {
  auto c = Parse(Config("enrollment:\n  address: enroll.example.lg.jp:8444\n  ca_fingerprint: " +
                        kPinHex + "\n  token: mt_abc\n  terminal_id: suita-0042\n"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->enrollment->address, "enroll.example.lg.jp:8444");
  EXPECT_EQ(c->enrollment->token, "mt_abc");
  EXPECT_EQ(c->enrollment->terminal_id, "suita-0042");
}

TEST(AgentEnrollmentConfigTest, Ipv6CollectorKeepsItsBrackets) {
  auto c = ParseAgentConfig("collector: {address: \"[::1]:7443\"}\nenrollment: {ca_fingerprint: " +
                                kPinHex + "}\nstate_dir: s\npolicy: {public_key_file: p.pub}\n",
                            "a.yaml", "/x");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->enrollment->address, "[::1]:7444");
}

TEST(AgentEnrollmentConfigTest, NeitherTokenNorFileIsAllowedForAnEnrolledAgent) {
  auto c = Parse(Config("enrollment:\n  ca_fingerprint: " + kPinHex + "\n"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->enrollment->token.empty());
  EXPECT_TRUE(c->enrollment->token_file.empty());
}

TEST(AgentEnrollmentConfigTest, WithoutEnrollmentTlsIsStillRequired) {
  ExpectError(Config(""), "agent.yaml:1:1: tls:", "required section is missing");
}

TEST(AgentEnrollmentConfigTest, TlsAndEnrollmentTogetherIsAnError) {
  ExpectError(Config("enrollment:\n  ca_fingerprint: " + kPinHex + "\n",
                     "tls: {ca_file: a, cert_file: b, key_file: c}\n"),
              "agent.yaml:3:6: tls:", "exclude each other");
}

TEST(AgentEnrollmentConfigTest, MissingFingerprint) {
  ExpectError(Config("enrollment:\n  token: mt_x\n"), "enrollment.ca_fingerprint", "required");
}

TEST(AgentEnrollmentConfigTest, MalformedFingerprint) {
  ExpectError(Config("enrollment:\n  ca_fingerprint: \"AB:CD\"\n"),
              "agent.yaml:4:19: enrollment.ca_fingerprint:", "64 hex digits");
  ExpectError(Config("enrollment:\n  ca_fingerprint: " + std::string(63, 'a') + "z\n"),
              "agent.yaml:4:19: enrollment.ca_fingerprint:", "'z'");
}

TEST(AgentEnrollmentConfigTest, TokenAndTokenFileTogether) {
  ExpectError(Config("enrollment:\n  ca_fingerprint: " + kPinHex +
                     "\n  token: mt_a\n  token_file: /etc/mamori/t\n"),
              "agent.yaml:6:15: enrollment.token_file:", "not both");
}

TEST(AgentEnrollmentConfigTest, EmptyTokenOrTokenFile) {
  ExpectError(Config("enrollment:\n  ca_fingerprint: " + kPinHex + "\n  token: \"\"\n"),
              "agent.yaml:5:10: enrollment.token:", "must not be empty");
  ExpectError(Config("enrollment:\n  ca_fingerprint: " + kPinHex + "\n  token_file: \"\"\n"),
              "agent.yaml:5:15: enrollment.token_file:", "must not be empty");
}

TEST(AgentEnrollmentConfigTest, OverlongToken) {
  ExpectError(Config("enrollment:\n  ca_fingerprint: " + kPinHex +
                     "\n  token: " + std::string(513, 'x') + "\n"),
              "enrollment.token:", "longer than 512");
}

TEST(AgentEnrollmentConfigTest, BadAddress) {
  ExpectError(Config("enrollment:\n  address: enroll.example\n  ca_fingerprint: " + kPinHex + "\n"),
              "agent.yaml:4:12: enrollment.address:", "host:port");
}

TEST(AgentEnrollmentConfigTest, BadTerminalId) {
  ExpectError(Config("enrollment:\n  ca_fingerprint: " + kPinHex + "\n  terminal_id: \"a b\"\n"),
              "agent.yaml:5:16: enrollment.terminal_id:", "'a b'");
}

TEST(AgentEnrollmentConfigTest, UnknownKeyAndEmptySection) {
  ExpectError(Config("enrollment:\n  ca_fingerprint: " + kPinHex + "\n  tokne: x\n"),
              "enrollment.tokne", "");
  ExpectError(Config("enrollment:\n"), "enrollment", "required section is missing");
}

}  // namespace
}  // namespace mamori
