#include "server/tls/cert_verifier.h"

#include <gmock/gmock.h>
#include <grpc/grpc_security.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <sstream>
#include <stdexcept>

#include "common/base/logging.h"
#include "server/tls/revocation_check.h"
#include "tests/mocks/fake_revocation_list.h"
#include "tests/support/custom_cert.h"
#include "tests/support/test_pki.h"

namespace mamori {
namespace {

using testing::FakeRevocationList;
using ::testing::HasSubstr;
using testing::TestPki;

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FixedPeer final : public HandshakePeerSource {
 public:
  std::string CurrentPeer() override { return "ipv4:127.0.0.9:4242"; }
};

// Captures everything logged while it lives.
class LogCapture {
 public:
  LogCapture() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_, /*force_flush=*/true);
    sink->set_pattern("%n %v");
    EXPECT_TRUE(SetupLoggingSinks("info", {sink}).ok());
  }
  ~LogCapture() { (void)SetupLoggingSinks("off", {}); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

KeyAndCert Issue(const KeyAndCert& ca, const IssueRequest& r) {
  Result<KeyAndCert> issued = IssueCertificate(ca, r);
  if (!issued) throw std::runtime_error(issued.error().message);
  return *issued;
}

std::string LeafOnly(const std::string& chain) {
  const std::string end = "-----END CERTIFICATE-----\n";
  return chain.substr(0, chain.find(end) + end.size());
}

class CertVerifierTest : public ::testing::Test {
 protected:
  // Runs the verifier on `chain_pem` (leaf first) the way gRPC calls it.
  static grpc::Status Verify(PeerCertificateVerifier& verifier, const std::string& chain_pem) {
    const std::string leaf = LeafOnly(chain_pem);
    grpc_tls_custom_verification_check_request c{};
    c.peer_info.common_name = "presented-cn";
    c.peer_info.peer_cert = leaf.c_str();
    c.peer_info.peer_cert_full_chain = chain_pem.c_str();
    grpc::experimental::TlsCustomVerificationCheckRequest request(&c);
    grpc::Status status;
    EXPECT_TRUE(verifier.Verify(
        &request, [](grpc::Status) {}, &status));
    return status;
  }

  TestPki pki_;
  SystemClock clock_;
  FixedPeer peer_;
  FakeRevocationList revoked_;
};

TEST_F(CertVerifierTest, AcceptsAChainThroughTheIssuingCa) {
  PeerCertificateVerifier verifier(pki_.ca().cert_pem, &clock_, &revoked_, &peer_);
  const KeyAndCert t = Issue(pki_.IssuingCa(), TestPki::TerminalRequest("t-1", "osaka"));
  const grpc::Status s = Verify(verifier, t.cert_pem);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(CertVerifierTest, RefusesALeafWhoseChainOmitsTheIssuingCa) {
  PeerCertificateVerifier verifier(pki_.ca().cert_pem, &clock_, &revoked_, &peer_);
  const KeyAndCert t = Issue(pki_.IssuingCa(), TestPki::TerminalRequest("t-1", "osaka"));
  LogCapture log;
  const grpc::Status s = Verify(verifier, LeafOnly(t.cert_pem));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("chain omits the issuing CA certificate"));
  EXPECT_THAT(log.text(), HasSubstr("connection from ipv4:127.0.0.9:4242 refused: client "
                                    "certificate CN=presented-cn rejected"));
  EXPECT_THAT(log.text(), HasSubstr(InspectCertificate(t.cert_pem)->sha256_fingerprint));
}

TEST_F(CertVerifierTest, AppliesTheClientIdentityRule) {
  PeerCertificateVerifier verifier(pki_.ca().cert_pem, &clock_, &revoked_, &peer_);
  testing::CertSpec no_group;
  no_group.uris = {"mamori://terminal/t-9"};
  const grpc::Status s = Verify(verifier, testing::MakeCustomCert(no_group, &pki_.ca()).cert_pem);
  EXPECT_THAT(s.error_message(), HasSubstr("terminal certificate has no mamori://group/ URI SAN"));
}

TEST_F(CertVerifierTest, RefusesRevokedIdentitiesAndCertificates) {
  PeerCertificateVerifier verifier(pki_.ca().cert_pem, &clock_, &revoked_, &peer_);
  const KeyAndCert t1 = Issue(pki_.IssuingCa(), TestPki::TerminalRequest("t-1", "osaka"));
  const KeyAndCert t2 = Issue(pki_.ca(), TestPki::TerminalRequest("t-2", "osaka"));
  const KeyAndCert t2_renewed = Issue(pki_.ca(), TestPki::TerminalRequest("t-2", "osaka"));
  ASSERT_TRUE(Verify(verifier, t1.cert_pem).ok());

  LogCapture log;
  revoked_.RevokeIdentity(PeerRole::kTerminal, "t-1", "stolen laptop");
  const grpc::Status s = Verify(verifier, t1.cert_pem);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("mamori://terminal/t-1 is revoked: stolen laptop"));
  EXPECT_THAT(log.text(), HasSubstr("connection from ipv4:127.0.0.9:4242 refused"));

  // One certificate of t-2 revoked by fingerprint; its successor still works.
  revoked_.RevokeCertificate(InspectCertificate(t2.cert_pem)->sha256_fingerprint, "superseded");
  EXPECT_THAT(Verify(verifier, t2.cert_pem).error_message(), HasSubstr("revoked: superseded"));
  EXPECT_TRUE(Verify(verifier, t2_renewed.cert_pem).ok());
  // An admin of the same name is a different identity.
  IssueRequest admin;
  admin.kind = CertKind::kAdmin;
  admin.id = "t-1";
  EXPECT_TRUE(Verify(verifier, Issue(pki_.ca(), admin).cert_pem).ok());
}

TEST_F(CertVerifierTest, SaysWhenTheAddressIsUnknown) {
  PeerCertificateVerifier verifier(pki_.ca().cert_pem, &clock_);
  LogCapture log;
  grpc_tls_custom_verification_check_request c{};
  c.peer_info.peer_cert = "";
  grpc::experimental::TlsCustomVerificationCheckRequest request(&c);
  grpc::Status status;
  verifier.Verify(
      &request, [](grpc::Status) {}, &status);
  EXPECT_THAT(status.error_message(), HasSubstr("no client certificate"));
  EXPECT_THAT(log.text(), HasSubstr("connection from unknown address refused"));
}

TEST_F(CertVerifierTest, PerCallCheckRefusesWhatWasRevokedAfterTheHandshake) {
  AuthenticatedPeer peer;
  peer.identity = {PeerRole::kTerminal, "t-5"};
  peer.address = "ipv4:127.0.0.1:5555";
  peer.cert_sha256 = "ab12";
  EXPECT_TRUE(CheckNotRevoked(nullptr, peer).ok());
  EXPECT_TRUE(CheckNotRevoked(&revoked_, peer).ok());

  LogCapture log;
  revoked_.RevokeIdentity(PeerRole::kTerminal, "t-5", "retired");
  const grpc::Status s = CheckNotRevoked(&revoked_, peer);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("mamori://terminal/t-5 is revoked: retired"));
  EXPECT_THAT(log.text(), HasSubstr("call from ipv4:127.0.0.1:5555 refused"));

  AuthenticatedPeer other = peer;
  other.identity.id = "t-6";
  EXPECT_TRUE(CheckNotRevoked(&revoked_, other).ok());
  revoked_.RevokeCertificate("cd34", "key compromise");
  other.cert_sha256 = "cd34";
  EXPECT_THAT(CheckNotRevoked(&revoked_, other).error_message(), HasSubstr("key compromise"));
}

}  // namespace
}  // namespace mamori
