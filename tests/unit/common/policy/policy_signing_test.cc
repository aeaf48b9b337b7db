#include "common/policy/policy_signing.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/base/hex.h"
#include "common/crypto/pki.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::TempDir;

constexpr uint64_t kVersion = 42;
constexpr std::string_view kGroup = "osaka/suita";
constexpr std::string_view kYaml = "name: p\ndefaults:\n  storage: block\n";

class PolicySigningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = std::make_unique<PolicySigningKey>(PolicySigningKey::Generate().value());
    other_ = std::make_unique<PolicySigningKey>(PolicySigningKey::Generate().value());
  }
  static void TearDownTestSuite() {
    key_.reset();
    other_.reset();
  }

  static PolicyBundle Bundle(uint64_t version, std::string_view group, std::string_view yaml,
                             const PolicySignature& sig = {}) {
    PolicyBundle b;
    b.version = version;
    b.group = std::string(group);
    b.policy_yaml = std::string(yaml);
    b.signature = sig.signature;
    b.key_id = sig.key_id;
    return b;
  }
  static PolicySignature Sign() { return key_->Sign(Bundle(kVersion, kGroup, kYaml)).value(); }
  static Status Verify(uint64_t version, std::string_view group, std::string_view yaml,
                       const PolicySignature& sig) {
    return key_->public_key().Verify(Bundle(version, group, yaml, sig));
  }
  static void ExpectRejected(const Status& s, std::string_view why) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kUnauthenticated);
    EXPECT_NE(s.error().message.find(why), std::string::npos) << s.error().message;
  }

  inline static std::unique_ptr<PolicySigningKey> key_;
  inline static std::unique_ptr<PolicySigningKey> other_;
};

TEST_F(PolicySigningTest, RoundTrip) {
  const PolicySignature sig = Sign();
  EXPECT_EQ(sig.signature.size(), 64u);
  EXPECT_EQ(sig.key_id, key_->key_id());
  EXPECT_TRUE(Verify(kVersion, kGroup, kYaml, sig).ok());
}

TEST_F(PolicySigningTest, SignaturesAreDeterministic) {
  // Ed25519 is deterministic: every agent can be sent byte-identical bundles.
  EXPECT_EQ(Sign().signature, Sign().signature);
}

TEST_F(PolicySigningTest, KeyIdIsSixteenHexDigitsOfTheRawPublicKeyHash) {
  EXPECT_EQ(key_->key_id().size(), 16u);
  for (char c : key_->key_id()) EXPECT_GE(HexDigit(c), 0) << key_->key_id();
  EXPECT_NE(key_->key_id(), other_->key_id());
}

TEST_F(PolicySigningTest, PayloadIsDomainSeparatedAndLengthPrefixed) {
  const std::string p = PolicySigningPayload(Bundle(0x0102030405060708ULL, "ab", "xyz"));
  const std::string expected = std::string("mamori-policy-bundle-v1\0", 24) +
                               std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8) +
                               std::string("\0\0\0\0\0\0\0\x02", 8) + "ab" +
                               std::string("\0\0\0\0\0\0\0\x03", 8) + "xyz";
  EXPECT_EQ(p, expected);
  // Moving bytes between group and yaml changes what is signed.
  EXPECT_NE(PolicySigningPayload(Bundle(1, "ab", "c")), PolicySigningPayload(Bundle(1, "a", "bc")));
  // What is not signed does not change it.
  PolicyBundle informational = Bundle(1, "ab", "c", {"sig", "key"});
  informational.applied_by = "mamori://admin/alice";
  informational.applied_at_ms = 1;
  EXPECT_EQ(PolicySigningPayload(informational), PolicySigningPayload(Bundle(1, "ab", "c")));
}

TEST_F(PolicySigningTest, WrongKeyIsRefused) {
  const PolicySignature sig = other_->Sign(Bundle(kVersion, kGroup, kYaml)).value();
  ExpectRejected(Verify(kVersion, kGroup, kYaml, sig), "not the pinned policy key");
}

TEST_F(PolicySigningTest, OtherKeysSignatureUnderThePinnedKeyIdIsRefused) {
  PolicySignature sig = other_->Sign(Bundle(kVersion, kGroup, kYaml)).value();
  sig.key_id = key_->key_id();  // claims to be ours
  ExpectRejected(Verify(kVersion, kGroup, kYaml, sig), "does not verify");
}

TEST_F(PolicySigningTest, UnsignedIsRefused) {
  ExpectRejected(Verify(kVersion, kGroup, kYaml, PolicySignature{"", ""}), "unsigned");
  ExpectRejected(Verify(kVersion, kGroup, kYaml, PolicySignature{"", key_->key_id()}), "unsigned");
}

TEST_F(PolicySigningTest, FlippedByteInVersionIsRefused) {
  ExpectRejected(Verify(kVersion ^ 0x100, kGroup, kYaml, Sign()), "does not verify");
}

TEST_F(PolicySigningTest, FlippedByteInGroupIsRefused) {
  std::string group(kGroup);
  group[2] ^= 0x01;
  ExpectRejected(Verify(kVersion, group, kYaml, Sign()), "does not verify");
}

TEST_F(PolicySigningTest, FlippedByteInPolicyYamlIsRefused) {
  std::string yaml(kYaml);
  yaml[yaml.size() - 3] ^= 0x01;
  ExpectRejected(Verify(kVersion, kGroup, yaml, Sign()), "does not verify");
}

TEST_F(PolicySigningTest, FlippedByteInSignatureIsRefused) {
  PolicySignature sig = Sign();
  sig.signature[10] ^= 0x01;
  ExpectRejected(Verify(kVersion, kGroup, kYaml, sig), "does not verify");
}

TEST_F(PolicySigningTest, TruncatedSignatureIsRefused) {
  PolicySignature sig = Sign();
  sig.signature.pop_back();
  ExpectRejected(Verify(kVersion, kGroup, kYaml, sig), "malformed signature");
}

TEST_F(PolicySigningTest, PemRoundTripKeepsTheKey) {
  auto reloaded = PolicySigningKey::FromPem(key_->PrivateKeyPem().value());
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  EXPECT_EQ(reloaded->key_id(), key_->key_id());
  auto pub = PolicyPublicKey::FromPem(key_->public_key().ToPem().value());
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(pub->key_id(), key_->key_id());
  const PolicySignature sig = reloaded->Sign(Bundle(kVersion, kGroup, kYaml)).value();
  EXPECT_TRUE(pub->Verify(Bundle(kVersion, kGroup, kYaml, sig)).ok());
}

TEST_F(PolicySigningTest, LoadFileErrorsNameTheFile) {
  TempDir dir;
  const std::string missing = dir.File("nope.key");
  auto r = PolicySigningKey::LoadFile(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(missing), std::string::npos) << r.error().message;

  const std::string garbage = dir.Write("garbage.pub", "not a key\n");
  auto p = PolicyPublicKey::LoadFile(garbage);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find(garbage + ": no PEM public key"), std::string::npos)
      << p.error().message;

  const std::string garbage_key = dir.Write("garbage.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
  auto k = PolicySigningKey::LoadFile(garbage_key);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().message.find(garbage_key + ": no unencrypted PEM private key"),
            std::string::npos)
      << k.error().message;
}

TEST_F(PolicySigningTest, KeyOfAnotherAlgorithmIsRefused) {
  TempDir dir;
  // An ECDSA P-256 key, as `pki init` makes for the CA.
  const KeyAndCert ca = CreateCa("CA", 1).value();
  const std::string path = dir.Write("ca.key", ca.key_pem);
  auto k = PolicySigningKey::LoadFile(path);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().message.find(path + ": not an Ed25519 key (found EC)"), std::string::npos)
      << k.error().message;
}

TEST_F(PolicySigningTest, PrivateKeyGivenAsPublicKeyIsRefusedWithAHint) {
  TempDir dir;
  const std::string path = dir.Write("policy-signing.key", key_->PrivateKeyPem().value());
  auto p = PolicyPublicKey::LoadFile(path);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("holds a private key"), std::string::npos) << p.error().message;
}

}  // namespace
}  // namespace mamori
