#include "common/crypto/unlock_key.h"

#include <gtest/gtest.h>

#include "common/crypto/pki.h"

namespace mamori {
namespace {

class UnlockKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = CreateCa("Test CA", 30).value();
    IssueRequest r;
    r.kind = CertKind::kTerminal;
    r.id = "T-0001";
    r.group = "osaka";
    terminal_ = IssueCertificate(ca_, r).value();
    unlock_ = CreateUnlockKeyPair().value();
  }
  KeyAndCert ca_;
  KeyAndCert terminal_;
  UnlockKeyPair unlock_;
};

TEST_F(UnlockKeyTest, BothSidesDeriveTheSameKey) {
  const std::string dep = DeploymentIdFromCa(ca_.cert_pem).value();
  EXPECT_EQ(dep.size(), 64u);
  // The collector: its unlock private key and the terminal's certificate.
  Result<std::string> collector =
      DeriveUnlockKey(unlock_.private_pem, terminal_.cert_pem, dep, "T-0001");
  // The agent: its mTLS private key and the collector's unlock public key.
  Result<std::string> agent = DeriveUnlockKey(terminal_.key_pem, unlock_.public_pem, dep, "T-0001");
  ASSERT_TRUE(collector.ok()) << collector.error().message;
  ASSERT_TRUE(agent.ok()) << agent.error().message;
  EXPECT_EQ(collector->size(), 32u);
  EXPECT_EQ(*collector, *agent);
  EXPECT_EQ(UnlockPublicKeyPem(unlock_.private_pem).value(), unlock_.public_pem);
}

TEST_F(UnlockKeyTest, KeyDependsOnTerminalDeploymentAndKeys) {
  const std::string dep = DeploymentIdFromCa(ca_.cert_pem).value();
  const std::string k =
      DeriveUnlockKey(terminal_.key_pem, unlock_.public_pem, dep, "T-0001").value();
  EXPECT_NE(k, DeriveUnlockKey(terminal_.key_pem, unlock_.public_pem, dep, "T-0002").value());
  EXPECT_NE(k, DeriveUnlockKey(terminal_.key_pem, unlock_.public_pem, "other", "T-0001").value());
  const UnlockKeyPair other = CreateUnlockKeyPair().value();
  EXPECT_NE(k, DeriveUnlockKey(terminal_.key_pem, other.public_pem, dep, "T-0001").value());
}

TEST_F(UnlockKeyTest, RefusesWhatIsNotAKey) {
  EXPECT_FALSE(DeriveUnlockKey("junk", unlock_.public_pem, "d", "t").ok());
  EXPECT_FALSE(DeriveUnlockKey(terminal_.key_pem, "junk", "d", "t").ok());
  EXPECT_FALSE(DeploymentIdFromCa("junk").ok());
}

}  // namespace
}  // namespace mamori
