#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "agent/core/terminal_identity.h"

namespace mamori {

struct GrpcEnrollmentOptions {
  std::string address;         // host:port of the enrollment port
  std::string server_name;     // name the collector's certificate must carry; empty = host
  std::string ca_fingerprint;  // 64 lower-case hex digits: the pinned root CA
  std::chrono::milliseconds call_timeout{std::chrono::seconds(15)};
  // Wall clock for the certificate checks (injected by tests).
  std::function<int64_t()> now_ms;
};

// EnrollmentService.Enroll over TLS that authenticates the collector by the
// pinned CA fingerprint alone: gRPC's own chain check is off (the terminal
// has no CA file yet), and a custom verifier accepts the connection only
// when the chain the collector presents validates up to a CA certificate
// with the pinned fingerprint and names the host (VerifyChainAgainstPin).
// The handshake fails otherwise, so the token never leaves the terminal for
// a server that is not the deployment's. The issued certificate's ca_pem
// must carry the pin as well.
class GrpcEnrollmentClient final : public EnrollmentClient {
 public:
  explicit GrpcEnrollmentClient(GrpcEnrollmentOptions options);
  Result<IssuedCertificate> Enroll(const EnrollmentParams& params) override;

 private:
  const GrpcEnrollmentOptions options_;
};

}  // namespace mamori
