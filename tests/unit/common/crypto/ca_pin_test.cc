#include "common/crypto/ca_pin.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/crypto/pki.h"

namespace mamori {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class CaPinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = CreateCa("Test Root", 365);
    ASSERT_TRUE(root.ok()) << root.error().message;
    root_ = *root;
    auto other = CreateCa("Other Root", 365);
    ASSERT_TRUE(other.ok());
    other_ = *other;
    IssueRequest req;
    req.kind = CertKind::kServer;
    req.id = "collector";
    req.dns_names = {"collector.example.lg.jp"};
    req.ip_addresses = {"127.0.0.1"};
    auto server = IssueCertificate(root_, req);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = *server;
    auto pin = CertificateFingerprint(root_.cert_pem);
    ASSERT_TRUE(pin.ok());
    pin_ = *pin;
  }

  KeyAndCert root_, other_, server_;
  std::string pin_;
};

TEST(CaFingerprintTest, AcceptsTheWaysOperatorsWriteIt) {
  const std::string hex(64, 'a');
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("AA");
  for (const std::string& text : {hex, colons, std::string("AA aa ") + std::string(60, 'A')}) {
    auto parsed = ParseCaFingerprint(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, hex);
  }
}

TEST(CaFingerprintTest, RefusesWrongLengthAndNonHex) {
  auto short_one = ParseCaFingerprint(std::string(62, 'a'));
  ASSERT_FALSE(short_one.ok());
  EXPECT_NE(short_one.error().message.find("found 62"), std::string::npos)
      << short_one.error().message;
  auto not_hex = ParseCaFingerprint(std::string(63, 'a') + "g");
  ASSERT_FALSE(not_hex.ok());
  EXPECT_NE(not_hex.error().message.find("'g'"), std::string::npos);
  EXPECT_FALSE(ParseCaFingerprint("").ok());
}

TEST(CaFingerprintTest, FormatsAsOpenSslPrintsIt) {
  EXPECT_EQ(FormatFingerprint("ab01ff"), "AB:01:FF");
}

TEST_F(CaPinTest, ChainUpToThePinnedRootIsTrustedAndTheRootReturned) {
  auto anchor = VerifyChainAgainstPin(server_.cert_pem + root_.cert_pem, pin_,
                                      "collector.example.lg.jp", Now());
  ASSERT_TRUE(anchor.ok()) << anchor.error().message;
  EXPECT_EQ(*CertificateFingerprint(*anchor), pin_);
  EXPECT_TRUE(
      VerifyChainAgainstPin(server_.cert_pem + root_.cert_pem, pin_, "127.0.0.1", Now()).ok());
}

TEST_F(CaPinTest, WrongPinIsRefusedNamingWhatWasPresented) {
  auto other_pin = CertificateFingerprint(other_.cert_pem);
  auto r = VerifyChainAgainstPin(server_.cert_pem + root_.cert_pem, *other_pin,
                                 "collector.example.lg.jp", Now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(r.error().message.find("pinned fingerprint " + FormatFingerprint(*other_pin)),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("Test Root"), std::string::npos) << r.error().message;
}

TEST_F(CaPinTest, ChainWithoutTheRootIsRefused) {
  auto r = VerifyChainAgainstPin(server_.cert_pem, pin_, "collector.example.lg.jp", Now());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("chain up to the root"), std::string::npos);
}

TEST_F(CaPinTest, PinnedRootAppendedToAForeignLeafIsRefused) {
  // An attacker can always send the real root along: the leaf must chain to it.
  IssueRequest req;
  req.kind = CertKind::kServer;
  req.id = "evil";
  req.dns_names = {"collector.example.lg.jp"};
  auto evil = IssueCertificate(other_, req);
  ASSERT_TRUE(evil.ok());
  auto r = VerifyChainAgainstPin(evil->cert_pem + root_.cert_pem, pin_, "collector.example.lg.jp",
                                 Now());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("does not chain to the pinned CA"), std::string::npos)
      << r.error().message;
}

TEST_F(CaPinTest, PinnedLeafThatIsNoCaIsNotAnAnchor) {
  auto leaf_pin = CertificateFingerprint(server_.cert_pem);
  auto r = VerifyChainAgainstPin(server_.cert_pem + root_.cert_pem, *leaf_pin,
                                 "collector.example.lg.jp", Now());
  EXPECT_FALSE(r.ok());
}

TEST_F(CaPinTest, OtherHostNameIsRefused) {
  auto r = VerifyChainAgainstPin(server_.cert_pem + root_.cert_pem, pin_, "evil.example", Now());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("does not name 'evil.example'"), std::string::npos);
}

TEST_F(CaPinTest, ExpiredServerCertificateIsRefused) {
  const int64_t in_two_years = Now() + 2LL * 365 * 24 * 3600 * 1000;
  EXPECT_FALSE(VerifyChainAgainstPin(server_.cert_pem + root_.cert_pem, pin_,
                                     "collector.example.lg.jp", in_two_years)
                   .ok());
}

TEST_F(CaPinTest, GarbageIsRefused) {
  EXPECT_FALSE(VerifyChainAgainstPin("", pin_, "x", Now()).ok());
  EXPECT_FALSE(VerifyChainAgainstPin("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                                     pin_, "x", Now())
                   .ok());
}

}  // namespace
}  // namespace mamori
