// The issuing (intermediate) CA, chains through it, and CRLs. The openssl
// command-line tool reads back what the library wrote, so the checks do not
// rest on the same code that produced the files.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "common/crypto/credentials.h"
#include "common/crypto/pki.h"
#include "tests/support/custom_cert.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs a shell command; returns its stdout and stderr together.
std::string Shell(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen((command + " 2>&1").c_str(), "r"), ::pclose);
  if (!pipe) return "popen failed";
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe.get()) != nullptr) out += buf.data();
  return out;
}

class IssuingCaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<KeyAndCert> root = CreateCa("Test Root", 3650);
    ASSERT_TRUE(root.ok()) << root.error().message;
    root_ = std::make_unique<KeyAndCert>(*root);
    Result<KeyAndCert> issuing = CreateIssuingCa(*root_, "Test Issuing CA", 1095);
    ASSERT_TRUE(issuing.ok()) << issuing.error().message;
    issuing_ = std::make_unique<KeyAndCert>(*issuing);
  }
  static void TearDownTestSuite() {
    root_.reset();
    issuing_.reset();
  }

  static IssueRequest Terminal(std::string id) {
    IssueRequest r;
    r.kind = CertKind::kTerminal;
    r.id = std::move(id);
    r.group = "osaka";
    return r;
  }

  testing::TempDir dir_;
  inline static std::unique_ptr<KeyAndCert> root_;
  inline static std::unique_ptr<KeyAndCert> issuing_;
};

TEST_F(IssuingCaTest, IssuingCaHasTheRightExtensions) {
  const std::string path = dir_.Write("issuing.pem", issuing_->cert_pem);
  const std::string text = Shell("openssl x509 -noout -text -in " + path);
  EXPECT_THAT(text, HasSubstr("Issuer: O = Mamori, CN = Test Root"));
  EXPECT_THAT(text, HasSubstr("Subject: O = Mamori, CN = Test Issuing CA"));
  EXPECT_THAT(text,
              HasSubstr("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"));
  EXPECT_THAT(text,
              HasSubstr("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"));
  EXPECT_THAT(text, HasSubstr("X509v3 Subject Key Identifier"));
  EXPECT_THAT(text, HasSubstr("X509v3 Authority Key Identifier"));
  EXPECT_THAT(text, HasSubstr("ecdsa-with-SHA256"));
  EXPECT_THAT(text, HasSubstr("NIST CURVE: P-256"));
  Result<CertInfo> info = InspectCertificate(issuing_->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->is_ca);
  EXPECT_EQ(info->not_after_ms - info->not_before_ms, 1095 * kDayMs);
  EXPECT_THAT(issuing_->key_pem, HasSubstr("BEGIN PRIVATE KEY"));
}

TEST_F(IssuingCaTest, LeafCarriesTheChainAndVerifiesToTheRootOnly) {
  Result<KeyAndCert> leaf = IssueCertificate(*issuing_, Terminal("t-1"));
  ASSERT_TRUE(leaf.ok()) << leaf.error().message;
  Result<std::vector<CertInfo>> chain = InspectCertificateChain(leaf->cert_pem);
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0].common_name, "t-1");
  EXPECT_EQ((*chain)[0].issuer, "CN=Test Issuing CA,O=Mamori");
  EXPECT_EQ((*chain)[1].common_name, "Test Issuing CA");
  EXPECT_EQ((*chain)[0].not_after_ms - (*chain)[0].not_before_ms, kDefaultClientCertDays * kDayMs);

  EXPECT_TRUE(
      VerifyCertificate(root_->cert_pem, leaf->cert_pem, NowMs(), CertPurpose::kClient).ok());
  // The leaf alone does not reach the root.
  const std::string leaf_only =
      leaf->cert_pem.substr(0, leaf->cert_pem.find("-----END CERTIFICATE-----") + 26);
  Status alone = VerifyCertificate(root_->cert_pem, leaf_only, NowMs(), CertPurpose::kClient);
  ASSERT_FALSE(alone.ok());
  EXPECT_THAT(alone.error().message, HasSubstr("chain omits the issuing CA certificate"));
  // The issuing CA is no trust anchor of its own when the root is the CA file.
  Result<KeyAndCert> other_root = CreateCa("Test Root", 3650);
  ASSERT_TRUE(other_root.ok());
  EXPECT_FALSE(
      VerifyCertificate(other_root->cert_pem, leaf->cert_pem, NowMs(), CertPurpose::kClient).ok());

  // The openssl tool agrees.
  const std::string root_path = dir_.Write("root.pem", root_->cert_pem);
  const std::string issuing_path = dir_.Write("issuing.pem", issuing_->cert_pem);
  const std::string leaf_path = dir_.Write("leaf.pem", leaf_only);
  EXPECT_THAT(Shell("openssl verify -CAfile " + root_path + " -untrusted " + issuing_path + " " +
                    leaf_path),
              HasSubstr(": OK"));
}

TEST_F(IssuingCaTest, ServerCertificatesKeepTheirLongerDefault) {
  IssueRequest server;
  server.kind = CertKind::kServer;
  server.id = "collector";
  server.dns_names = {"localhost"};
  Result<KeyAndCert> cert = IssueCertificate(*issuing_, server);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  Result<CertInfo> info = InspectCertificate(cert->cert_pem);
  EXPECT_EQ(info->not_after_ms - info->not_before_ms, kDefaultServerCertDays * kDayMs);
  EXPECT_TRUE(
      VerifyCertificate(root_->cert_pem, cert->cert_pem, NowMs(), CertPurpose::kServer).ok());
}

TEST_F(IssuingCaTest, AnIssuingCaCannotMakeAnother) {
  Result<KeyAndCert> nested = CreateIssuingCa(*issuing_, "Nested", 30);
  ASSERT_FALSE(nested.ok());
  EXPECT_THAT(nested.error().message, HasSubstr("not a self-signed root"));
}

TEST_F(IssuingCaTest, RefusesRootsThatCannotSignCasAndOverlongLifetimes) {
  // Roots made before issuing CAs existed said pathlen:0.
  testing::CertSpec spec;
  spec.is_ca = true;
  spec.eku.clear();
  spec.uris.clear();
  spec.common_name = "Old Root";
  KeyAndCert old_root = testing::MakeCustomCert(spec, nullptr);
  const std::string key_path = dir_.Write("old.key", old_root.key_pem);
  const std::string cert_path = dir_.File("old.pem");
  Shell("openssl req -x509 -new -key " + key_path + " -subj /CN=Old -days 30 -addext " +
        "'basicConstraints=critical,CA:TRUE,pathlen:0' -addext 'keyUsage=critical,keyCertSign' "
        "-out " +
        cert_path);
  const std::string pem = Shell("cat " + cert_path);
  ASSERT_THAT(pem, HasSubstr("BEGIN CERTIFICATE"));
  Result<KeyAndCert> refused = CreateIssuingCa(KeyAndCert{old_root.key_pem, pem}, "X", 10);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("pathlen:0"));

  Result<KeyAndCert> too_long = CreateIssuingCa(*root_, "Too long", 3651);
  ASSERT_FALSE(too_long.ok());
  EXPECT_THAT(too_long.error().message, HasSubstr("would outlive the root CA"));
}

TEST_F(IssuingCaTest, LoadTlsMaterialAcceptsLeafPlusIssuingCa) {
  Result<KeyAndCert> leaf = IssueCertificate(*issuing_, Terminal("t-2"));
  ASSERT_TRUE(leaf.ok());
  TlsFiles files{dir_.Write("root.pem", root_->cert_pem), dir_.Write("t2.pem", leaf->cert_pem),
                 dir_.Write("t2.key", leaf->key_pem)};
  Result<TlsMaterial> m = LoadTlsMaterial(files, NowMs());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->cert.common_name, "t-2");

  // Without the issuing CA in the file the leaf no longer chains.
  const std::string leaf_only =
      leaf->cert_pem.substr(0, leaf->cert_pem.find("-----END CERTIFICATE-----") + 26);
  files.cert_file = dir_.Write("t2-alone.pem", leaf_only);
  Result<TlsMaterial> alone = LoadTlsMaterial(files, NowMs());
  ASSERT_FALSE(alone.ok());
  EXPECT_THAT(alone.error().message, HasSubstr("t2-alone.pem"));
  EXPECT_THAT(alone.error().message, HasSubstr("chain omits the issuing CA certificate"));
}

TEST_F(IssuingCaTest, CrlReadsBackWithTheOpensslTool) {
  Result<KeyAndCert> a = IssueCertificate(*issuing_, Terminal("t-a"));
  Result<KeyAndCert> b = IssueCertificate(*issuing_, Terminal("t-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string serial_a = InspectCertificate(a->cert_pem)->serial_hex;
  const std::string serial_b = InspectCertificate(b->cert_pem)->serial_hex;
  ASSERT_FALSE(serial_a.empty());
  const int64_t now = NowMs();
  Result<std::string> crl = CreateCrl(*issuing_,
                                      {{serial_a, now - 60'000, CrlReason::kKeyCompromise},
                                       {serial_b, now, CrlReason::kUnspecified}},
                                      now, now + kDayMs, 7);
  ASSERT_TRUE(crl.ok()) << crl.error().message;
  EXPECT_THAT(*crl, HasSubstr("BEGIN X509 CRL"));

  const std::string crl_path = dir_.Write("issuing.crl", *crl);
  const std::string ca_path = dir_.Write("issuing.pem", issuing_->cert_pem);
  const std::string text =
      Shell("openssl crl -in " + crl_path + " -CAfile " + ca_path + " -noout -text");
  EXPECT_THAT(text, HasSubstr("verify OK"));
  EXPECT_THAT(text, HasSubstr("Version 2"));
  EXPECT_THAT(text, HasSubstr("Issuer: O = Mamori, CN = Test Issuing CA"));
  EXPECT_THAT(text, HasSubstr("X509v3 CRL Number: \n                7"));
  EXPECT_THAT(text, HasSubstr("X509v3 Authority Key Identifier"));
  EXPECT_THAT(text, HasSubstr("Serial Number: " + serial_a));
  EXPECT_THAT(text, HasSubstr("Serial Number: " + serial_b));
  EXPECT_THAT(text, HasSubstr("Key Compromise"));
  EXPECT_THAT(text, HasSubstr("Next Update"));

  // A CRL signed by another CA does not verify against this one.
  const std::string root_path = dir_.Write("root.pem", root_->cert_pem);
  EXPECT_THAT(Shell("openssl crl -in " + crl_path + " -CAfile " + root_path + " -noout"),
              Not(HasSubstr("verify OK")));
  // openssl verify with -crl_check refuses the revoked leaf.
  const std::string leaf_path = dir_.Write("a.pem", a->cert_pem);
  EXPECT_THAT(Shell("openssl verify -CAfile " + root_path + " -untrusted " + ca_path +
                    " -CRLfile " + crl_path + " -crl_check " + leaf_path),
              HasSubstr("certificate revoked"));
}

TEST_F(IssuingCaTest, CrlRefusesBadInput) {
  const int64_t now = NowMs();
  EXPECT_THAT(CreateCrl(*issuing_, {{"xyz", now, CrlReason::kUnspecified}}, now, now + 1000, 1)
                  .error()
                  .message,
              HasSubstr("invalid serial"));
  EXPECT_THAT(CreateCrl(*issuing_, {{std::string(41, 'A'), now, CrlReason::kUnspecified}}, now,
                        now + 1000, 1)
                  .error()
                  .message,
              HasSubstr("invalid serial"));
  EXPECT_THAT(CreateCrl(*issuing_, {}, now, now, 1).error().message, HasSubstr("next update"));
  Result<std::string> empty = CreateCrl(*issuing_, {}, now, now + 1000, 1);
  EXPECT_TRUE(empty.ok());
}

}  // namespace
}  // namespace mamori
