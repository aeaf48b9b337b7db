#pragma once

// Certificate signing requests: a terminal makes its own key and asks the
// collector's issuing CA to certify it, so the private key never leaves the
// terminal.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/crypto/pki.h"

namespace mamori {

// Largest CSR accepted: a P-256 request is well under 1 KiB of PEM.
inline constexpr std::size_t kMaxCsrPemBytes = 16 * 1024;

struct KeyAndCsr {
  std::string key_pem;  // PKCS#8 PEM
  std::string csr_pem;  // PKCS#10 PEM
};

// A fresh ECDSA P-256 key and a PKCS#10 request signed with it. The common
// name is informational only: the collector writes the identity itself.
Result<KeyAndCsr> MakeKeyAndCsr(std::string_view common_name);

struct CsrInfo {
  std::string public_key_der;     // SubjectPublicKeyInfo, DER
  std::string public_key_sha256;  // lower-case hex of SHA-256 over public_key_der
  std::string common_name;        // as the requester wrote it; never trusted
};

// Parses a CSR (PEM, at most kMaxCsrPemBytes), checks its self-signature and
// that its key is EC P-256. Errors name the problem.
Result<CsrInfo> ParseCsr(std::string_view csr_pem);

struct SignedCertificate {
  std::string cert_pem;    // the leaf
  std::string chain_pem;   // the issuer and its chain below the root; empty when the root signed
  std::string serial_hex;  // lower-case hex, no leading zeros
  std::string sha256_fingerprint;  // lower-case hex of the leaf's DER
  std::string public_key_sha256;   // as in CsrInfo
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
};

// Signs the CSR's public key with `issuer` (cert_pem may hold the issuer
// followed by its own chain), writing the identity from `request` (id, group,
// kind, validity) and never the CSR's subject or extensions.
Result<SignedCertificate> SignCsr(const KeyAndCert& issuer, std::string_view csr_pem,
                                  const IssueRequest& request);

// SHA-256 of the SubjectPublicKeyInfo of the first certificate in `cert_pem`,
// lower-case hex: compares a certificate's key with a CSR's.
Result<std::string> CertificatePublicKeySha256(std::string_view cert_pem);

}  // namespace mamori
