#include "common/crypto/csr.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "common/crypto/openssl_util.h"

namespace mamori {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using openssl::EvpPkeyPtr;
using X509ReqPtr = std::unique_ptr<X509_REQ, openssl::Deleter<X509_REQ, X509_REQ_free>>;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

EvpPkeyPtr MakeKey(const char* type, const char* group_or_bits) {
  EvpPkeyPtr key;
  if (std::string(type) == "RSA") {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  } else {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group_or_bits));
  }
  return key;
}

// A CSR for `subject_key`'s public half signed with `signing_key`: when the
// two differ, the self-signature is bad.
std::string CsrPem(EVP_PKEY* subject_key, EVP_PKEY* signing_key) {
  X509ReqPtr req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("evil"), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), subject_key);
  X509_REQ_sign(req.get(), signing_key, EVP_sha256());
  openssl::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  return openssl::BioToString(bio.get());
}

class CsrTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<KeyAndCert> ca = CreateCa("Test CA", 3650);
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_ = std::make_unique<KeyAndCert>(std::move(*ca));
  }
  static void TearDownTestSuite() { ca_.reset(); }
  static const KeyAndCert& ca() { return *ca_; }

  static IssueRequest Terminal(std::string id, std::string group = "") {
    IssueRequest r;
    r.kind = CertKind::kTerminal;
    r.id = std::move(id);
    r.group = std::move(group);
    r.validity_seconds = 30LL * 24 * 60 * 60;
    return r;
  }

 private:
  inline static std::unique_ptr<KeyAndCert> ca_;
};

TEST_F(CsrTest, MadeCsrParsesAndNamesItsKey) {
  Result<KeyAndCsr> made = MakeKeyAndCsr("pc-001");
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_THAT(made->key_pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  EXPECT_THAT(made->csr_pem, HasSubstr("-----BEGIN CERTIFICATE REQUEST-----"));
  Result<CsrInfo> info = ParseCsr(made->csr_pem);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->common_name, "pc-001");
  EXPECT_EQ(info->public_key_sha256.size(), 64u);
  EXPECT_FALSE(info->public_key_der.empty());
}

TEST_F(CsrTest, EachCsrHasItsOwnKey) {
  Result<KeyAndCsr> a = MakeKeyAndCsr("pc");
  Result<KeyAndCsr> b = MakeKeyAndCsr("pc");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(ParseCsr(a->csr_pem)->public_key_sha256, ParseCsr(b->csr_pem)->public_key_sha256);
}

TEST_F(CsrTest, SignedCertificateCarriesRequestIdentityNotCsrSubject) {
  Result<KeyAndCsr> made = MakeKeyAndCsr("someone-else");
  ASSERT_TRUE(made.ok());
  Result<SignedCertificate> signed_cert =
      SignCsr(ca(), made->csr_pem, Terminal("pc-001", "osaka/suita"));
  ASSERT_TRUE(signed_cert.ok()) << signed_cert.error().message;
  Result<CertInfo> info = InspectCertificate(signed_cert->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "pc-001");
  EXPECT_THAT(info->uris, ElementsAre("mamori://terminal/pc-001", "mamori://group/osaka/suita"));
  EXPECT_FALSE(info->is_ca);
  EXPECT_EQ(signed_cert->sha256_fingerprint, info->sha256_fingerprint);
  EXPECT_EQ(signed_cert->not_before_ms, info->not_before_ms);
  EXPECT_EQ(signed_cert->not_after_ms - signed_cert->not_before_ms, 30LL * 24 * 60 * 60 * 1000);
  // Issued by the root itself: no chain below it.
  EXPECT_THAT(signed_cert->chain_pem, IsEmpty());
  // The certificate holds the CSR's key, and the key made with the CSR fits it.
  EXPECT_TRUE(CheckKeyMatchesCertificate(made->key_pem, signed_cert->cert_pem).ok());
  EXPECT_EQ(*CertificatePublicKeySha256(signed_cert->cert_pem),
            ParseCsr(made->csr_pem)->public_key_sha256);
  EXPECT_EQ(signed_cert->public_key_sha256, ParseCsr(made->csr_pem)->public_key_sha256);
  EXPECT_TRUE(
      VerifyCertificate(ca().cert_pem, signed_cert->cert_pem, NowMs(), CertPurpose::kClient).ok());
}

TEST_F(CsrTest, SerialsAreRandom128BitHex) {
  Result<KeyAndCsr> made = MakeKeyAndCsr("pc");
  ASSERT_TRUE(made.ok());
  std::set<std::string> serials;
  for (int i = 0; i < 20; ++i) {
    Result<SignedCertificate> s = SignCsr(ca(), made->csr_pem, Terminal("pc-001"));
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_LE(s->serial_hex.size(), 32u);
    EXPECT_GE(s->serial_hex.size(), 16u);  // 2^-64 chance of a false failure
    EXPECT_EQ(s->serial_hex.find_first_not_of("0123456789abcdef"), std::string::npos);
    serials.insert(s->serial_hex);
  }
  EXPECT_EQ(serials.size(), 20u);
}

TEST_F(CsrTest, ShortLifetimeInSeconds) {
  Result<KeyAndCsr> made = MakeKeyAndCsr("pc");
  ASSERT_TRUE(made.ok());
  IssueRequest r = Terminal("pc-001");
  r.validity_seconds = 300;
  r.not_before_ms = 1'800'000'000'000;
  Result<SignedCertificate> s = SignCsr(ca(), made->csr_pem, r);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->not_before_ms, 1'800'000'000'000);
  EXPECT_EQ(s->not_after_ms, 1'800'000'300'000);
  r.validity_seconds = 10;
  Result<SignedCertificate> too_short = SignCsr(ca(), made->csr_pem, r);
  ASSERT_FALSE(too_short.ok());
  EXPECT_THAT(too_short.error().message, HasSubstr("validity"));
}

TEST_F(CsrTest, ChainHoldsIntermediatesButNotTheRoot) {
  // An issuer whose cert_pem is followed by its chain: the self-signed root
  // is left out, everything else is passed on in order.
  Result<KeyAndCert> other_root = CreateCa("Other root", 10);
  ASSERT_TRUE(other_root.ok());
  IssueRequest filler = Terminal("not-a-real-intermediate");
  Result<KeyAndCert> below_root = IssueCertificate(*other_root, filler);
  ASSERT_TRUE(below_root.ok());
  KeyAndCert issuer = ca();
  issuer.cert_pem += below_root->cert_pem + other_root->cert_pem;
  Result<KeyAndCsr> made = MakeKeyAndCsr("pc");
  ASSERT_TRUE(made.ok());
  Result<SignedCertificate> s = SignCsr(issuer, made->csr_pem, Terminal("pc-001"));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->chain_pem, below_root->cert_pem);
}

TEST_F(CsrTest, P384KeyRefused) {
  EvpPkeyPtr key = MakeKey("EC", "P-384");
  ASSERT_TRUE(key);
  const std::string csr = CsrPem(key.get(), key.get());
  Result<CsrInfo> info = ParseCsr(csr);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(info.error().message, HasSubstr("EC P-384"));
  EXPECT_THAT(info.error().message, HasSubstr("only EC P-256"));
  EXPECT_FALSE(SignCsr(ca(), csr, Terminal("pc-001")).ok());
}

TEST_F(CsrTest, RsaKeyRefused) {
  EvpPkeyPtr key = MakeKey("RSA", nullptr);
  ASSERT_TRUE(key);
  const std::string csr = CsrPem(key.get(), key.get());
  Result<CsrInfo> info = ParseCsr(csr);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("RSA"));
  EXPECT_FALSE(SignCsr(ca(), csr, Terminal("pc-001")).ok());
}

TEST_F(CsrTest, BadSelfSignatureRefused) {
  EvpPkeyPtr subject = MakeKey("EC", "P-256");
  EvpPkeyPtr other = MakeKey("EC", "P-256");
  ASSERT_TRUE(subject && other);
  const std::string csr = CsrPem(subject.get(), other.get());
  Result<CsrInfo> info = ParseCsr(csr);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("signature does not verify"));
  EXPECT_FALSE(SignCsr(ca(), csr, Terminal("pc-001")).ok());
  // The same request signed properly passes: the check is what refused it.
  EXPECT_TRUE(ParseCsr(CsrPem(subject.get(), subject.get())).ok());
}

TEST_F(CsrTest, HugeInputRefusedBeforeParsing) {
  Result<KeyAndCsr> made = MakeKeyAndCsr("pc");
  ASSERT_TRUE(made.ok());
  const std::string huge = made->csr_pem + std::string(kMaxCsrPemBytes, '\n');
  Result<CsrInfo> info = ParseCsr(huge);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("too large"));
  EXPECT_THAT(info.error().message, HasSubstr(std::to_string(huge.size())));
}

TEST_F(CsrTest, GarbageAndCertificatesRefused) {
  EXPECT_THAT(ParseCsr("").error().message, HasSubstr("no PEM certificate request"));
  EXPECT_THAT(ParseCsr(ca().cert_pem).error().message, HasSubstr("no PEM certificate request"));
  const std::string broken =
      "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
  EXPECT_THAT(ParseCsr(broken).error().message, HasSubstr("not a readable PKCS#10"));
}

TEST_F(CsrTest, IdentityRulesStillApply) {
  Result<KeyAndCsr> made = MakeKeyAndCsr("pc");
  ASSERT_TRUE(made.ok());
  Result<SignedCertificate> bad_id = SignCsr(ca(), made->csr_pem, Terminal("pc 001"));
  ASSERT_FALSE(bad_id.ok());
  EXPECT_THAT(bad_id.error().message, HasSubstr("invalid terminal id"));
  KeyAndCert not_ca{made->key_pem, ""};
  EXPECT_FALSE(SignCsr(not_ca, made->csr_pem, Terminal("pc-001")).ok());
}

}  // namespace
}  // namespace mamori
