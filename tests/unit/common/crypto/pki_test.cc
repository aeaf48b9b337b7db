#include "common/crypto/pki.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

namespace mamori {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class PkiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<KeyAndCert> ca = CreateCa("Test CA", 3650);
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_ = std::make_unique<KeyAndCert>(std::move(*ca));
  }
  static void TearDownTestSuite() { ca_.reset(); }

  static KeyAndCert Issue(const IssueRequest& r) {
    Result<KeyAndCert> issued = IssueCertificate(*ca_, r);
    EXPECT_TRUE(issued.ok()) << issued.error().message;
    return issued.ok() ? *issued : KeyAndCert{};
  }

  static IssueRequest Terminal(std::string id, std::string group = "") {
    IssueRequest r;
    r.kind = CertKind::kTerminal;
    r.id = std::move(id);
    r.group = std::move(group);
    return r;
  }

  static const KeyAndCert& ca() { return *ca_; }

 private:
  // One CA for the suite: key generation is the slow part.
  inline static std::unique_ptr<KeyAndCert> ca_;
};

TEST_F(PkiTest, CaIsSelfSignedCa) {
  Result<CertInfo> info = InspectCertificate(ca().cert_pem);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_TRUE(info->is_ca);
  EXPECT_EQ(info->common_name, "Test CA");
  EXPECT_EQ(info->subject, "CN=Test CA,O=Mamori");
  EXPECT_THAT(info->uris, IsEmpty());
  EXPECT_EQ(info->sha256_fingerprint.size(), 64u);
  EXPECT_EQ(info->not_after_ms - info->not_before_ms, 3650 * kDayMs);
  EXPECT_THAT(ca().key_pem, HasSubstr("BEGIN PRIVATE KEY"));
}

TEST_F(PkiTest, CaAcceptsJapaneseName) {
  Result<KeyAndCert> ca = CreateCa("吹田市 Mamori CA", 365);
  ASSERT_TRUE(ca.ok()) << ca.error().message;
  Result<CertInfo> info = InspectCertificate(ca->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "吹田市 Mamori CA");
  EXPECT_THAT(info->subject, HasSubstr("CN=吹田市 Mamori CA"));

  // The 64 limit counts characters: 30 kanji are 90 bytes and still fit.
  std::string kanji;
  for (int i = 0; i < 30; ++i) kanji += "保";
  EXPECT_TRUE(CreateCa(kanji, 10).ok());
  EXPECT_FALSE(CreateCa(std::string(65, 'a'), 10).ok());
}

TEST_F(PkiTest, RejectsBadCaParameters) {
  EXPECT_FALSE(CreateCa("", 10).ok());
  EXPECT_FALSE(CreateCa("CA", 0).ok());
}

TEST_F(PkiTest, TerminalCertificateCarriesIdentityAndGroup) {
  const KeyAndCert t = Issue(Terminal("t-001", "osaka/suita/hoken"));
  Result<CertInfo> info = InspectCertificate(t.cert_pem);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->common_name, "t-001");
  EXPECT_FALSE(info->is_ca);
  EXPECT_THAT(info->uris,
              ElementsAre("mamori://terminal/t-001", "mamori://group/osaka/suita/hoken"));
  EXPECT_THAT(info->dns_names, IsEmpty());
  EXPECT_THAT(info->ip_addresses, IsEmpty());
  EXPECT_EQ(info->not_after_ms - info->not_before_ms, kDefaultClientCertDays * kDayMs);
  // Backdated by five minutes for clock differences.
  EXPECT_LE(info->not_before_ms, NowMs() - 4 * 60 * 1000);
  EXPECT_GE(info->not_before_ms, NowMs() - 6 * 60 * 1000);
  EXPECT_TRUE(CheckKeyMatchesCertificate(t.key_pem, t.cert_pem).ok());
}

TEST_F(PkiTest, TerminalWithoutGroupHasOneUri) {
  Result<CertInfo> info = InspectCertificate(Issue(Terminal("t-002")).cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->uris, ElementsAre("mamori://terminal/t-002"));
}

TEST_F(PkiTest, AdminCertificate) {
  IssueRequest r;
  r.kind = CertKind::kAdmin;
  r.id = "alice";
  Result<CertInfo> info = InspectCertificate(Issue(r).cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->uris, ElementsAre("mamori://admin/alice"));
}

TEST_F(PkiTest, ServerCertificateCarriesDnsAndIp) {
  IssueRequest r;
  r.kind = CertKind::kServer;
  r.id = "collector-1";
  r.dns_names = {"localhost", "collector.example.lg.jp"};
  r.ip_addresses = {"127.0.0.1", "::1", "2001:db8::5"};
  Result<CertInfo> info = InspectCertificate(Issue(r).cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->uris, ElementsAre("mamori://collector/collector-1"));
  EXPECT_THAT(info->dns_names, ElementsAre("localhost", "collector.example.lg.jp"));
  EXPECT_THAT(info->ip_addresses, UnorderedElementsAre("127.0.0.1", "::1", "2001:db8::5"));
}

TEST_F(PkiTest, SerialsAndKeysAreFresh) {
  const KeyAndCert a = Issue(Terminal("same"));
  const KeyAndCert b = Issue(Terminal("same"));
  EXPECT_NE(a.key_pem, b.key_pem);
  EXPECT_NE(InspectCertificate(a.cert_pem)->sha256_fingerprint,
            InspectCertificate(b.cert_pem)->sha256_fingerprint);
  EXPECT_FALSE(CheckKeyMatchesCertificate(a.key_pem, b.cert_pem).ok());
}

TEST_F(PkiTest, RejectsInvalidIdsAndGroups) {
  for (const char* bad : {"", "has space", "slash/id", "ü", "a,URI:mamori://admin/root"}) {
    Result<KeyAndCert> r = IssueCertificate(ca(), Terminal(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.error().message, HasSubstr("invalid terminal id"));
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  Result<KeyAndCert> g = IssueCertificate(ca(), Terminal("t1", "Osaka//suita"));
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.error().message, HasSubstr("invalid group"));

  IssueRequest admin;
  admin.kind = CertKind::kAdmin;
  admin.id = "bob";
  admin.group = "osaka";
  EXPECT_THAT(IssueCertificate(ca(), admin).error().message, HasSubstr("only terminal"));

  IssueRequest server;
  server.kind = CertKind::kServer;
  server.id = "c";
  server.ip_addresses = {"300.1.1.1"};
  EXPECT_THAT(IssueCertificate(ca(), server).error().message, HasSubstr("invalid IP address"));
  server.ip_addresses.clear();
  server.dns_names = {"bad name,DNS:evil"};
  EXPECT_THAT(IssueCertificate(ca(), server).error().message, HasSubstr("invalid DNS name"));

  IssueRequest days = Terminal("t1");
  days.validity_days = -1;
  EXPECT_THAT(IssueCertificate(ca(), days).error().message, HasSubstr("validity"));
}

TEST_F(PkiTest, RejectsMismatchedCaMaterial) {
  Result<KeyAndCert> other = CreateCa("Other", 10);
  ASSERT_TRUE(other.ok());
  KeyAndCert mixed{other->key_pem, ca().cert_pem};
  Result<KeyAndCert> r = IssueCertificate(mixed, Terminal("t1"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("does not match"));
}

TEST_F(PkiTest, VerifiesPurposeFromExtendedKeyUsage) {
  const KeyAndCert terminal = Issue(Terminal("t1"));
  const int64_t now = NowMs();
  EXPECT_TRUE(VerifyCertificate(ca().cert_pem, terminal.cert_pem, now, CertPurpose::kClient).ok());
  Status as_server = VerifyCertificate(ca().cert_pem, terminal.cert_pem, now, CertPurpose::kServer);
  ASSERT_FALSE(as_server.ok());
  EXPECT_THAT(as_server.error().message, HasSubstr("certificate purpose"));
  EXPECT_THAT(as_server.error().message, HasSubstr("TLS server"));

  IssueRequest s;
  s.kind = CertKind::kServer;
  s.id = "collector";
  s.dns_names = {"localhost"};
  const KeyAndCert server = Issue(s);
  EXPECT_TRUE(VerifyCertificate(ca().cert_pem, server.cert_pem, now, CertPurpose::kServer).ok());
  EXPECT_FALSE(VerifyCertificate(ca().cert_pem, server.cert_pem, now, CertPurpose::kClient).ok());
}

TEST_F(PkiTest, ExpiredCertificateFailsWithDate) {
  constexpr int64_t kDec31 = 1767139200000;  // 2025-12-31T00:00:00Z
  Result<KeyAndCert> old_ca = CreateCa("Old CA", 3650, kDec31 - 365 * kDayMs);
  ASSERT_TRUE(old_ca.ok());
  IssueRequest r = Terminal("old");
  r.not_before_ms = kDec31;
  r.validity_days = 1;
  Result<KeyAndCert> old = IssueCertificate(*old_ca, r);
  ASSERT_TRUE(old.ok());
  Status s = VerifyCertificate(old_ca->cert_pem, old->cert_pem, NowMs(), CertPurpose::kClient);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("expired"));
  EXPECT_THAT(s.error().message, HasSubstr("not after 2026-01-01T00:00:00Z"));
  EXPECT_THAT(s.error().message, HasSubstr("CN=old"));
  // Verification honours the injected time, not the system clock.
  EXPECT_TRUE(VerifyCertificate(old_ca->cert_pem, old->cert_pem, kDec31 + 12 * 3600 * 1000,
                                CertPurpose::kClient)
                  .ok());
}

TEST_F(PkiTest, NotYetValidCertificateFails) {
  IssueRequest r = Terminal("future");
  r.not_before_ms = NowMs() + 2 * kDayMs;
  Status s = VerifyCertificate(ca().cert_pem, Issue(r).cert_pem, NowMs(), CertPurpose::kClient);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("not yet valid"));
  EXPECT_THAT(s.error().message, HasSubstr("not before"));
}

TEST_F(PkiTest, CertificateFromAnotherCaFails) {
  Result<KeyAndCert> other = CreateCa("Other CA", 10);
  ASSERT_TRUE(other.ok());
  Result<KeyAndCert> foreign = IssueCertificate(*other, Terminal("t1"));
  ASSERT_TRUE(foreign.ok());
  Status s = VerifyCertificate(ca().cert_pem, foreign->cert_pem, NowMs(), CertPurpose::kClient);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("not issued by this CA"));
  EXPECT_THAT(s.error().message, HasSubstr("issuer CN=Other CA"));
  // A self-signed CA presented as a leaf is not trusted either.
  EXPECT_FALSE(
      VerifyCertificate(ca().cert_pem, other->cert_pem, NowMs(), CertPurpose::kClient).ok());
}

TEST_F(PkiTest, ExpiredCaFailsVerification) {
  Result<KeyAndCert> old_ca = CreateCa("Old CA", 1, NowMs() - 10 * kDayMs);
  ASSERT_TRUE(old_ca.ok());
  IssueRequest r = Terminal("t1");
  r.not_before_ms = NowMs() - 10 * kDayMs;
  Result<KeyAndCert> leaf = IssueCertificate(*old_ca, r);
  ASSERT_TRUE(leaf.ok());
  Status s = VerifyCertificate(old_ca->cert_pem, leaf->cert_pem, NowMs(), CertPurpose::kClient);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("expired"));
}

TEST_F(PkiTest, GarbageIsRejected) {
  EXPECT_FALSE(InspectCertificate("").ok());
  EXPECT_FALSE(
      InspectCertificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
  EXPECT_FALSE(VerifyCertificate("junk", ca().cert_pem, NowMs(), CertPurpose::kClient).ok());
  EXPECT_FALSE(CheckKeyMatchesCertificate("junk", ca().cert_pem).ok());
  EXPECT_FALSE(CheckKeyMatchesCertificate(ca().key_pem, "junk").ok());
}

TEST_F(PkiTest, EncryptedKeyIsRejectedWithoutPrompting) {
  // An encrypted key must produce an error, never a passphrase prompt.
  const std::string encrypted =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
      "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiJ0pYcd7bODwICCAAw\n"
      "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEELd5PmxbrkYXDWo3FT6VIuAEgZBN\n"
      "-----END ENCRYPTED PRIVATE KEY-----\n";
  Status s = CheckKeyMatchesCertificate(encrypted, ca().cert_pem);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("private key"));
}

TEST(FormatUtcTest, Formats) {
  EXPECT_EQ(FormatUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatUtc(1767225600000), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatUtc(1767225600999), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatUtc(-1), "1969-12-31T23:59:59Z");
}

}  // namespace
}  // namespace mamori
