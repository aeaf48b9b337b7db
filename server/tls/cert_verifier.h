#pragma once

#include <grpcpp/security/tls_certificate_verifier.h>

#include <memory>
#include <string>

#include "common/base/clock.h"

namespace mamori {

// Verifies client certificates during the TLS handshake against the
// deployment's CA, for client use, at the current time, and requires a
// mamori:// identity URI SAN. Doing the check here rather than leaving it to
// the TLS stack lets every refusal be logged with the reason and the
// presented subject ("certificate has expired", "not issued by this CA",
// "no client certificate"), which security staff need to see who knocked.
class PeerCertificateVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  PeerCertificateVerifier(std::string ca_pem, const Clock* clock);

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback, grpc::Status* sync_status) override;
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::string ca_pem_;
  const Clock* clock_;
};

}  // namespace mamori
