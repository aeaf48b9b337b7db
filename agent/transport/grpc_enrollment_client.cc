#include "agent/transport/grpc_enrollment_client.h"

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <mutex>
#include <utility>

#include "agent/transport/grpc_collector_client.h"
#include "common/crypto/ca_pin.h"
#include "common/crypto/pki.h"
#include "mamori/v1/enrollment.grpc.pb.h"
#include "proto/wire/grpc_status.h"

namespace mamori {
namespace {

// What the verifier found, read after a failed call: gRPC reports a
// refused handshake only as "unavailable".
struct VerifyOutcome {
  std::mutex mu;
  std::string error;  // guarded by mu
};

class PinnedCaVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  PinnedCaVerifier(std::string pin, std::string host, std::function<int64_t()> now_ms,
                   std::shared_ptr<VerifyOutcome> outcome)
      : pin_(std::move(pin)),
        host_(std::move(host)),
        now_ms_(std::move(now_ms)),
        outcome_(std::move(outcome)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    const grpc::string_ref chain = request->peer_cert_full_chain();
    Result<std::string> anchor =
        VerifyChainAgainstPin(std::string_view(chain.data(), chain.size()), pin_, host_, now_ms_());
    if (anchor.ok()) {
      *sync_status = grpc::Status::OK;
    } else {
      {
        std::lock_guard lock(outcome_->mu);
        outcome_->error = anchor.error().message;
      }
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, anchor.error().message);
    }
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  const std::string pin_;
  const std::string host_;
  const std::function<int64_t()> now_ms_;
  const std::shared_ptr<VerifyOutcome> outcome_;
};

std::string HostOf(std::string_view address) {
  std::string host(address.substr(0, address.rfind(':')));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

}  // namespace

GrpcEnrollmentClient::GrpcEnrollmentClient(GrpcEnrollmentOptions options)
    : options_(std::move(options)) {}

Result<IssuedCertificate> GrpcEnrollmentClient::Enroll(const EnrollmentParams& params) {
  const std::string host =
      options_.server_name.empty() ? HostOf(options_.address) : options_.server_name;
  auto outcome = std::make_shared<VerifyOutcome>();
  grpc::experimental::TlsChannelCredentialsOptions tls;
  // No CA file on a terminal that is not enrolled: the pinned verifier is
  // the whole check, so gRPC's own chain and host checks are turned off.
  // gRPC still wants root certificates to build its TLS context and would
  // otherwise look for the system's, which a Windows build of it may not
  // find; a throwaway CA of our own fills the slot and trusts nothing.
  Result<KeyAndCert> placeholder = CreateCa("mamori enrollment placeholder", 1);
  if (!placeholder.ok()) return placeholder.error();
  tls.set_certificate_provider(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(placeholder->cert_pem));
  tls.watch_root_certs();
  tls.set_verify_server_certs(false);
  tls.set_check_call_host(false);
  tls.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PinnedCaVerifier>(
          options_.ca_fingerprint, host, options_.now_ms, outcome));
  grpc::ChannelArguments args;
  if (!options_.server_name.empty()) args.SetSslTargetNameOverride(options_.server_name);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(1 << 20);
  auto channel =
      grpc::CreateCustomChannel(options_.address, grpc::experimental::TlsCredentials(tls), args);
  auto stub = v1::EnrollmentService::NewStub(channel);

  v1::EnrollRequest req;
  req.set_token(params.token);
  req.set_csr_pem(params.csr_pem);
  req.set_hostname(params.hostname);
  req.set_terminal_id(params.terminal_id);
  req.set_agent_version(params.agent_version);
  req.set_os(params.os);
  v1::IssuedCertificate resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
  const grpc::Status s = stub->Enroll(&ctx, req, &resp);
  if (!s.ok()) {
    std::string verify_error;
    {
      std::lock_guard lock(outcome->mu);
      verify_error = outcome->error;
    }
    if (!verify_error.empty()) {
      return MakeError(
          ErrorCode::kUnauthenticated,
          "collector at " + options_.address + " not trusted, token not sent: " + verify_error);
    }
    std::string msg =
        "Enroll at " + options_.address + ": " + std::string(GrpcCodeName(s.error_code()));
    if (!s.error_message().empty()) msg += ": " + s.error_message();
    const ErrorCode code = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                                   s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                               ? ErrorCode::kUnavailable
                               : ErrorCode::kPermissionDenied;
    return MakeError(code, std::move(msg));
  }
  IssuedCertificate issued = IssuedFromProto(resp);
  Result<std::string> ca = CertificateFingerprint(issued.ca_pem);
  if (!ca.ok() || *ca != options_.ca_fingerprint) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "the collector's answer names a root CA other than the pinned " +
                         FormatFingerprint(options_.ca_fingerprint));
  }
  return issued;
}

}  // namespace mamori
