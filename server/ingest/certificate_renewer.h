#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/crypto/identity.h"
#include "mamori/v1/enrollment.pb.h"

namespace mamori {

// A certificate the collector's issuing CA signed, as handed to the
// terminal or admin it is for.
struct IssuedCredential {
  std::string id;
  std::string group;      // terminals only
  std::string cert_pem;   // the leaf
  std::string chain_pem;  // intermediates below the root; may be empty
  std::string ca_pem;     // the root the collector's own certificate chains to
  std::string serial_hex;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
};

// The wire form (enrollment and renewal answer alike).
void ToProto(const IssuedCredential& c, v1::IssuedCertificate* out);

// Who asks for a renewal, as read from the verified client certificate.
struct RenewalCaller {
  PeerRole role = PeerRole::kTerminal;
  std::string id;
  std::string group;
  std::string cert_pem;  // the certificate the caller connected with
  std::string address;   // transport peer, for logs and the record
};

// Issues a new certificate for the caller's own identity and a fresh key.
// Errors: kPermissionDenied (revoked), kInvalidArgument (CSR, key reused),
// kFailedPrecondition (no issuing CA configured).
class CertificateRenewer {
 public:
  virtual ~CertificateRenewer() = default;
  virtual Result<IssuedCredential> Renew(const RenewalCaller& caller, std::string_view csr_pem) = 0;
};

}  // namespace mamori
