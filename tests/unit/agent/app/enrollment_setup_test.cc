#include "agent/app/enrollment_setup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "agent/app/agent_config.h"
#include "common/base/file_io.h"
#include "common/policy/policy_signing.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

const std::string kPinHex = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

std::string PolicyPub() {
  auto key = PolicySigningKey::Generate();
  return *key->public_key().ToPem();
}

TEST(EnrollmentSetupTest, WritesAConfigTheAgentLoadsWithTokenAndPolicyKey) {
  testing::TempDir dir;
  EnrollmentSetup setup;
  setup.collector = "collector.example.lg.jp:7443";
  setup.ca_fingerprint =
      "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
      "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89";
  setup.token = "mt_secret";
  setup.policy_key = PolicyPub();
  setup.terminal_id = "suita-0042";
  auto written = WriteEnrollmentSetup(setup, dir.path() + "/config");
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(written->size(), 3u);

  auto config = LoadAgentConfig(dir.path() + "/config/agent.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->collector_address, "collector.example.lg.jp:7443");
  ASSERT_TRUE(config->enrollment.has_value());
  EXPECT_EQ(config->enrollment->ca_fingerprint, kPinHex);
  EXPECT_EQ(config->enrollment->address, "collector.example.lg.jp:7444");
  EXPECT_EQ(config->enrollment->token_file, dir.path() + "/config/enroll-token");
  EXPECT_EQ(config->enrollment->terminal_id, "suita-0042");
  EXPECT_EQ(config->state_dir, dir.path() + "/state");
  EXPECT_EQ(*ReadFileToString(config->enrollment->token_file), "mt_secret\n");
  struct stat st {};
  ASSERT_EQ(stat(config->enrollment->token_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(PolicyPublicKey::LoadFile(config->policy_public_key_file).ok());
}

TEST(EnrollmentSetupTest, PolicyKeyAsItsBase64Line) {
  const std::string pem = PolicyPub();
  // The lines between BEGIN and END, joined.
  std::string body;
  const auto first = pem.find('\n') + 1;
  for (char c : pem.substr(first, pem.rfind("-----END") - first)) {
    if (c != '\n') body += c;
  }
  auto converted = PolicyKeyPem(body);
  ASSERT_TRUE(converted.ok()) << converted.error().message;
  EXPECT_EQ((*PolicyPublicKey::FromPem(*converted)).key_id(),
            (*PolicyPublicKey::FromPem(pem)).key_id());
  EXPECT_FALSE(PolicyKeyPem("not a key!").ok());
  EXPECT_FALSE(PolicyKeyPem("QUJD").ok());
}

TEST(EnrollmentSetupTest, WithoutTokenTheTokenFileIsLeftAloneAndTheEnrollAddressIsKept) {
  testing::TempDir dir;
  EnrollmentSetup setup;
  setup.collector = "10.0.0.5:7443";
  setup.ca_fingerprint = kPinHex;
  setup.policy_key = PolicyPub();
  setup.enroll_address = "10.0.0.6:8444";
  auto written = WriteEnrollmentSetup(setup, dir.path());
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/enroll-token"));
  auto config = LoadAgentConfig(dir.path() + "/agent.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->enrollment->address, "10.0.0.6:8444");
}

TEST(EnrollmentSetupTest, BadValuesNameTheProperty) {
  testing::TempDir dir;
  EnrollmentSetup setup;
  setup.collector = "collector.example.lg.jp:7443";
  setup.ca_fingerprint = "AB:CD";
  setup.policy_key = PolicyPub();
  auto r = WriteEnrollmentSetup(setup, dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("CA_FINGERPRINT"), std::string::npos) << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/agent.yaml"));

  setup.ca_fingerprint = kPinHex;
  setup.collector = "collector-without-port";
  r = WriteEnrollmentSetup(setup, dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("collector.address"), std::string::npos) << r.error().message;

  setup.collector = "c:7443";
  setup.policy_key = "";
  r = WriteEnrollmentSetup(setup, dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("POLICY_KEY"), std::string::npos) << r.error().message;

  setup.policy_key = "garbage";
  r = WriteEnrollmentSetup(setup, dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("POLICY_KEY"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace mamori
