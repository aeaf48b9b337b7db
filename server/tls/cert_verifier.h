#pragma once

#include <grpcpp/security/tls_certificate_verifier.h>

#include <memory>
#include <string>

#include "common/base/clock.h"
#include "server/tls/handshake_peer.h"
#include "server/tls/revocation_list.h"

namespace mamori {

// Verifies client certificates during the TLS handshake: the presented chain
// (leaf plus the intermediates the client sent) must lead to the root in the
// collector's CA file, for client use, at the current time; the leaf must
// pass CheckClientIdentity; and neither its identity nor the certificate may
// be on the deny list. Doing the check here rather than leaving it to the
// TLS stack lets every refusal be logged with the reason, the peer's
// address, the presented subject and the certificate's fingerprint, which
// security staff need to see who knocked.
class PeerCertificateVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  // `revocations` and `peers` may be null (no deny list; address unknown);
  // both must outlive the verifier.
  PeerCertificateVerifier(std::string ca_pem, const Clock* clock,
                          const RevocationList* revocations = nullptr,
                          HandshakePeerSource* peers = nullptr);

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback, grpc::Status* sync_status) override;
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::string ca_pem_;
  const Clock* clock_;
  const RevocationList* revocations_;
  HandshakePeerSource* peers_;
};

}  // namespace mamori
