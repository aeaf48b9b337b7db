#include "server/tls/cert_verifier.h"

#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "common/crypto/client_identity.h"
#include "common/crypto/identity.h"
#include "common/crypto/pki.h"

namespace mamori {

PeerCertificateVerifier::PeerCertificateVerifier(std::string ca_pem, const Clock* clock,
                                                 const RevocationList* revocations,
                                                 HandshakePeerSource* peers)
    : ca_pem_(std::move(ca_pem)), clock_(clock), revocations_(revocations), peers_(peers) {}

bool PeerCertificateVerifier::Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
                                     std::function<void(grpc::Status)> /*callback*/,
                                     grpc::Status* sync_status) {
  static const auto log = GetLogger("tls");
  std::string address = peers_ != nullptr ? peers_->CurrentPeer() : std::string();
  if (address.empty()) address = "unknown address";

  const grpc::string_ref leaf_ref = request->peer_cert();
  const std::string leaf(leaf_ref.data(), leaf_ref.size());
  if (leaf.empty()) {
    log->warn("connection from {} refused: no client certificate presented", address);
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no client certificate");
    return true;
  }

  const grpc::string_ref subject_ref = request->common_name();
  const std::string subject =
      SanitizeDeviceString(std::string_view(subject_ref.data(), subject_ref.size()), 200);
  Result<CertInfo> info = InspectCertificate(leaf);
  const std::string fingerprint = info ? info->sha256_fingerprint : std::string("?");
  const auto refuse = [&](const std::string& reason) {
    log->warn("connection from {} refused: client certificate CN={} rejected: {} (sha256 {})",
              address, subject, reason, fingerprint);
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, reason);
    return true;
  };
  if (!info) return refuse(info.error().message);

  // The leaf and whatever intermediates the client sent. Only the root in
  // the CA file is a trust anchor: a presented intermediate counts only once
  // it chains to it. gRPC's "full chain" may repeat the leaf or even carry a
  // copy of the root; as untrusted certificates both are harmless.
  const grpc::string_ref chain_ref = request->peer_cert_full_chain();
  const std::string chain = leaf + std::string(chain_ref.data(), chain_ref.size());
  if (Status s = VerifyCertificate(ca_pem_, chain, clock_->NowMs(), CertPurpose::kClient); !s) {
    return refuse(s.error().message);
  }
  Result<ClientIdentity> identity = CheckClientIdentity(leaf);
  if (!identity) return refuse(identity.error().message);
  if (revocations_ != nullptr) {
    if (std::optional<std::string> reason = revocations_->RevokedReason(
            identity->identity.role, identity->identity.id, identity->cert_sha256)) {
      return refuse(FormatIdentityUri(identity->identity.role, identity->identity.id) +
                    " is revoked: " + SanitizeDeviceString(*reason, 200));
    }
  }
  *sync_status = grpc::Status::OK;
  return true;
}

}  // namespace mamori
