#include "server/tls/cert_verifier.h"

#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "common/crypto/identity.h"
#include "common/crypto/pki.h"

namespace mamori {

PeerCertificateVerifier::PeerCertificateVerifier(std::string ca_pem, const Clock* clock)
    : ca_pem_(std::move(ca_pem)), clock_(clock) {}

bool PeerCertificateVerifier::Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
                                     std::function<void(grpc::Status)> /*callback*/,
                                     grpc::Status* sync_status) {
  static const auto log = GetLogger("tls");
  // Only the leaf is verified: the deployment's CA issues every certificate
  // directly, and the "full chain" gRPC reports is the one the TLS stack
  // assembled, which may already contain the trust anchor itself.
  const grpc::string_ref leaf_ref = request->peer_cert();
  const std::string chain(leaf_ref.data(), leaf_ref.size());
  if (chain.empty()) {
    log->warn("connection refused: no client certificate presented");
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no client certificate");
    return true;
  }

  const grpc::string_ref subject_ref = request->common_name();
  const std::string subject =
      SanitizeDeviceString(std::string_view(subject_ref.data(), subject_ref.size()), 200);

  if (Status s = VerifyCertificate(ca_pem_, chain, clock_->NowMs(), CertPurpose::kClient); !s) {
    log->warn("connection refused: client certificate CN={} rejected: {}", subject,
              s.error().message);
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, s.error().message);
    return true;
  }

  bool has_identity = false;
  for (const auto& uri : request->uri_names()) {
    if (ParseIdentityUri(std::string_view(uri.data(), uri.size()))) has_identity = true;
  }
  if (!has_identity) {
    log->warn("connection refused: client certificate CN={} has no mamori:// identity URI",
              subject);
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                "certificate has no mamori:// identity URI SAN");
    return true;
  }
  *sync_status = grpc::Status::OK;
  return true;
}

}  // namespace mamori
