#include "common/crypto/client_identity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "tests/support/custom_cert.h"

namespace mamori {
namespace {

using testing::CertSpec;
using ::testing::HasSubstr;
using testing::MakeCustomCert;

class ClientIdentityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<KeyAndCert> ca = CreateCa("Identity Test CA", 365);
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_ = std::make_unique<KeyAndCert>(*ca);
    CertSpec rsa_ca;
    rsa_ca.key_type = "RSA";
    rsa_ca.is_ca = true;
    rsa_ca.eku.clear();
    rsa_ca.uris.clear();
    rsa_ca.common_name = "RSA CA";
    rsa_ca_ = std::make_unique<KeyAndCert>(MakeCustomCert(rsa_ca, nullptr));
  }
  static void TearDownTestSuite() {
    ca_.reset();
    rsa_ca_.reset();
  }

  // The reason `spec` is refused for; "" when accepted.
  static std::string Refusal(const CertSpec& spec, const KeyAndCert* issuer = nullptr) {
    const KeyAndCert cert = MakeCustomCert(spec, issuer != nullptr ? issuer : ca_.get());
    Result<ClientIdentity> r = CheckClientIdentity(cert.cert_pem);
    if (r.ok()) return "";
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
    return r.error().message;
  }

  inline static std::unique_ptr<KeyAndCert> ca_;
  inline static std::unique_ptr<KeyAndCert> rsa_ca_;
};

TEST_F(ClientIdentityTest, AcceptsIssuedTerminalAndAdminCertificates) {
  IssueRequest t;
  t.kind = CertKind::kTerminal;
  t.id = "T-0001";
  t.group = "osaka/suita/hoken";
  Result<KeyAndCert> terminal = IssueCertificate(*ca_, t);
  ASSERT_TRUE(terminal.ok());
  Result<ClientIdentity> id = CheckClientIdentity(terminal->cert_pem);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->identity.role, PeerRole::kTerminal);
  EXPECT_EQ(id->identity.id, "T-0001");
  EXPECT_EQ(id->group, "osaka/suita/hoken");
  EXPECT_EQ(id->cert_sha256, InspectCertificate(terminal->cert_pem)->sha256_fingerprint);

  IssueRequest a;
  a.kind = CertKind::kAdmin;
  a.id = "alice";
  Result<KeyAndCert> admin = IssueCertificate(*ca_, a);
  ASSERT_TRUE(admin.ok());
  id = CheckClientIdentity(admin->cert_pem);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->identity.role, PeerRole::kAdmin);
  EXPECT_EQ(id->group, "");
}

TEST_F(ClientIdentityTest, AcceptsTheOtherAllowedKeys) {
  CertSpec p384;
  p384.curve = "P-384";
  EXPECT_EQ(Refusal(p384), "");
  CertSpec rsa;
  rsa.key_type = "RSA";
  rsa.rsa_bits = 2048;
  EXPECT_EQ(Refusal(rsa), "");
  EXPECT_EQ(Refusal(CertSpec{}, rsa_ca_.get()), "");
  // Foreign URIs (say SPIFFE) next to ours are no one's business.
  CertSpec extra;
  extra.uris.push_back("spiffe://example.org/x");
  EXPECT_EQ(Refusal(extra), "");
}

TEST_F(ClientIdentityTest, RefusesIdentityUriProblems) {
  CertSpec none;
  none.uris = {"mamori://group/osaka"};
  EXPECT_THAT(Refusal(none), HasSubstr("no mamori:// identity URI"));

  CertSpec two;
  two.uris = {"mamori://terminal/a", "mamori://terminal/b", "mamori://group/osaka"};
  EXPECT_THAT(Refusal(two), HasSubstr("more than one mamori:// identity URI"));

  CertSpec mixed;
  mixed.uris = {"mamori://terminal/a", "mamori://admin/a"};
  EXPECT_THAT(Refusal(mixed), HasSubstr("more than one mamori:// identity URI"));

  CertSpec bad_id;
  bad_id.uris = {"mamori://terminal/a b", "mamori://group/osaka"};
  EXPECT_THAT(Refusal(bad_id), HasSubstr("terminal id \"a b\" is not valid"));

  CertSpec bad_admin;
  bad_admin.uris = {"mamori://admin/" + std::string(129, 'a')};
  EXPECT_THAT(Refusal(bad_admin), HasSubstr("admin name"));

  CertSpec unknown;
  unknown.uris = {"mamori://root/x"};
  EXPECT_THAT(Refusal(unknown), HasSubstr("unknown mamori:// URI SAN"));

  CertSpec no_san;
  no_san.uris.clear();
  EXPECT_THAT(Refusal(no_san), HasSubstr("no mamori:// identity URI"));
}

TEST_F(ClientIdentityTest, RefusesGroupProblems) {
  CertSpec no_group;
  no_group.uris = {"mamori://terminal/t-1"};
  EXPECT_THAT(Refusal(no_group), HasSubstr("terminal certificate has no mamori://group/"));

  CertSpec two_groups;
  two_groups.uris = {"mamori://terminal/t-1", "mamori://group/a", "mamori://group/b"};
  EXPECT_THAT(Refusal(two_groups), HasSubstr("more than one mamori://group/"));

  CertSpec bad_group;
  bad_group.uris = {"mamori://terminal/t-1", "mamori://group/Osaka//x"};
  EXPECT_THAT(Refusal(bad_group), HasSubstr("group \"Osaka//x\" is not a valid group"));

  CertSpec admin_group;
  admin_group.uris = {"mamori://admin/alice", "mamori://group/osaka"};
  EXPECT_THAT(Refusal(admin_group), HasSubstr("admin certificate carries a group"));

  CertSpec collector_group;
  collector_group.uris = {"mamori://collector/c1", "mamori://group/osaka"};
  EXPECT_THAT(Refusal(collector_group), HasSubstr("collector certificate carries a group"));
}

TEST_F(ClientIdentityTest, RefusesWeakOrForeignKeys) {
  CertSpec rsa1024;
  rsa1024.key_type = "RSA";
  rsa1024.rsa_bits = 1024;
  EXPECT_THAT(Refusal(rsa1024), HasSubstr("RSA key of 1024 bits"));

  CertSpec k1;
  k1.curve = "secp256k1";
  EXPECT_THAT(Refusal(k1), HasSubstr("curve secp256k1"));

  CertSpec p521;
  p521.curve = "P-521";
  EXPECT_THAT(Refusal(p521), HasSubstr("only P-256 and P-384"));

  CertSpec ed;
  ed.key_type = "ED25519";
  EXPECT_THAT(Refusal(ed), HasSubstr("key type ED25519"));
}

TEST_F(ClientIdentityTest, RefusesBrokenSignatureDigests) {
  CertSpec sha1;
  sha1.digest = "SHA1";
  EXPECT_THAT(Refusal(sha1), HasSubstr("signed with SHA1"));
  EXPECT_THAT(Refusal(sha1, rsa_ca_.get()), HasSubstr("signed with SHA1"));

  CertSpec md5;
  md5.digest = "MD5";
  EXPECT_THAT(Refusal(md5, rsa_ca_.get()), HasSubstr("signed with MD5"));
}

TEST_F(ClientIdentityTest, RefusesCaCertificatesAndMissingClientAuth) {
  CertSpec ca;
  ca.is_ca = true;
  EXPECT_THAT(Refusal(ca), HasSubstr("CA certificate (basicConstraints CA:TRUE)"));

  CertSpec no_eku;
  no_eku.eku.clear();
  EXPECT_THAT(Refusal(no_eku), HasSubstr("no extendedKeyUsage clientAuth"));

  CertSpec server_only;
  server_only.eku = {"serverAuth"};
  EXPECT_THAT(Refusal(server_only), HasSubstr("no extendedKeyUsage clientAuth"));

  CertSpec both;
  both.eku = {"serverAuth", "clientAuth"};
  EXPECT_EQ(Refusal(both), "");
}

TEST_F(ClientIdentityTest, SanitizesWhatItQuotes) {
  CertSpec hostile;
  hostile.uris = {"mamori://terminal/x\x1b[2J", "mamori://group/osaka"};
  const std::string reason = Refusal(hostile);
  EXPECT_THAT(reason, HasSubstr("is not valid")) << reason;
  EXPECT_EQ(reason.find('\x1b'), std::string::npos);
}

TEST_F(ClientIdentityTest, RefusesGarbage) {
  EXPECT_THAT(CheckClientIdentity("not a certificate").error().message,
              HasSubstr("no PEM certificate"));
}

}  // namespace
}  // namespace mamori
