// The pinned enrollment client over real TLS on loopback against an
// in-process stand-in for the enrollment port: the token reaches a server
// whose chain leads to the pinned root, and never one that does not.
#include "agent/transport/grpc_enrollment_client.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <vector>

#include "common/crypto/ca_pin.h"
#include "common/crypto/pki.h"
#include "mamori/v1/enrollment.grpc.pb.h"
#include "proto/wire/convert.h"

namespace mamori {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RecordingEnrollmentService final : public v1::EnrollmentService::Service {
 public:
  grpc::Status Enroll(grpc::ServerContext* /*ctx*/, const v1::EnrollRequest* req,
                      v1::IssuedCertificate* resp) override {
    std::lock_guard lock(mu);
    tokens.push_back(req->token());
    if (req->token() != "mt_good") {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "token refused");
    }
    resp->set_terminal_id("t-001");
    resp->set_certificate_pem("leaf");
    resp->set_ca_pem(answer_ca_pem);
    SetMs(Now(), resp->mutable_not_before());
    return grpc::Status::OK;
  }
  std::mutex mu;
  std::vector<std::string> tokens;
  std::string answer_ca_pem;
};

class GrpcEnrollmentClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = *CreateCa("Deployment Root", 30);
    other_ = *CreateCa("Other Root", 30);
    pin_ = *CertificateFingerprint(root_.cert_pem);
    service_.answer_ca_pem = root_.cert_pem;
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }
  // Serves with a certificate from `issuer`, presenting `chain_tail` after it.
  void Serve(const KeyAndCert& issuer, const std::string& chain_tail) {
    IssueRequest req;
    req.kind = CertKind::kServer;
    req.id = "collector";
    req.dns_names = {"localhost"};
    req.ip_addresses = {"127.0.0.1"};
    KeyAndCert server = *IssueCertificate(issuer, req);
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({server.key_pem, server.cert_pem + chain_tail});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
  }
  GrpcEnrollmentClient Client(const std::string& pin) {
    GrpcEnrollmentOptions o;
    o.address = "127.0.0.1:" + std::to_string(port_);
    o.ca_fingerprint = pin;
    o.call_timeout = std::chrono::seconds(5);
    o.now_ms = Now;
    return GrpcEnrollmentClient(o);
  }
  EnrollmentParams Params(const std::string& token) {
    EnrollmentParams p;
    p.token = token;
    p.csr_pem = "csr";
    p.hostname = "pc-01";
    return p;
  }
  std::vector<std::string> Tokens() {
    std::lock_guard lock(service_.mu);
    return service_.tokens;
  }

  KeyAndCert root_, other_;
  std::string pin_;
  RecordingEnrollmentService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(GrpcEnrollmentClientTest, ServerChainingToThePinnedRootGetsTheToken) {
  Serve(root_, root_.cert_pem);
  auto issued = Client(pin_).Enroll(Params("mt_good"));
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  EXPECT_EQ(issued->terminal_id, "t-001");
  EXPECT_EQ(Tokens(), std::vector<std::string>{"mt_good"});
}

TEST_F(GrpcEnrollmentClientTest, WrongPinFailsTheHandshakeAndTheTokenStaysHome) {
  Serve(root_, root_.cert_pem);
  auto issued = Client(*CertificateFingerprint(other_.cert_pem)).Enroll(Params("mt_good"));
  ASSERT_FALSE(issued.ok());
  EXPECT_NE(issued.error().message.find("not trusted, token not sent"), std::string::npos)
      << issued.error().message;
  EXPECT_TRUE(Tokens().empty());
}

TEST_F(GrpcEnrollmentClientTest, ImpostorPresentingTheRealRootIsRefused) {
  Serve(other_, root_.cert_pem);  // a foreign leaf with the real root appended
  auto issued = Client(pin_).Enroll(Params("mt_good"));
  ASSERT_FALSE(issued.ok());
  EXPECT_NE(issued.error().message.find("does not chain to the pinned CA"), std::string::npos)
      << issued.error().message;
  EXPECT_TRUE(Tokens().empty());
}

TEST_F(GrpcEnrollmentClientTest, ServerWithoutItsRootIsRefusedSayingSo) {
  Serve(root_, "");
  auto issued = Client(pin_).Enroll(Params("mt_good"));
  ASSERT_FALSE(issued.ok());
  EXPECT_NE(issued.error().message.find("chain up to the root"), std::string::npos)
      << issued.error().message;
  EXPECT_TRUE(Tokens().empty());
}

TEST_F(GrpcEnrollmentClientTest, RefusedTokenCarriesTheCollectorsReason) {
  Serve(root_, root_.cert_pem);
  auto issued = Client(pin_).Enroll(Params("mt_bad"));
  ASSERT_FALSE(issued.ok());
  EXPECT_NE(issued.error().message.find("UNAUTHENTICATED: token refused"), std::string::npos)
      << issued.error().message;
}

TEST_F(GrpcEnrollmentClientTest, AnswerNamingAnotherRootIsRefused) {
  Serve(root_, root_.cert_pem);
  service_.answer_ca_pem = other_.cert_pem;
  auto issued = Client(pin_).Enroll(Params("mt_good"));
  ASSERT_FALSE(issued.ok());
  EXPECT_NE(issued.error().message.find("root CA other than the pinned"), std::string::npos)
      << issued.error().message;
}

TEST_F(GrpcEnrollmentClientTest, UnreachableCollectorIsUnavailable) {
  Serve(root_, root_.cert_pem);
  server_->Shutdown(std::chrono::system_clock::now());
  server_.reset();
  auto issued = Client(pin_).Enroll(Params("mt_good"));
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().code, ErrorCode::kUnavailable) << issued.error().message;
}

}  // namespace
}  // namespace mamori
