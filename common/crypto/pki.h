#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// A private key and its certificate, both PEM.
struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

enum class CertKind { kServer, kTerminal, kAdmin };

// Default lifetimes. Terminal and admin certificates are short-lived and
// renewed; a server certificate is installed by hand, so it lives longer.
inline constexpr int64_t kDefaultClientCertDays = 30;
inline constexpr int64_t kDefaultServerCertDays = 397;
inline constexpr int64_t kDefaultIssuingCaDays = 1095;

struct IssueRequest {
  CertKind kind = CertKind::kTerminal;
  // Terminal id, admin name or collector name; becomes the CN and the URI SAN
  // mamori://terminal/<id>, mamori://admin/<id> or mamori://collector/<id>.
  std::string id;
  // Terminals only: hierarchical group, added as URI SAN mamori://group/<g>.
  std::string group;
  // Servers: DNS and IP SANs (clients verify the collector's name).
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  // Validity window, Unix epoch ms. not_before_ms = 0 means now - 5 minutes
  // (tolerates small clock differences); validity_days counts from then, and
  // 0 means the default for the kind (kDefaultClientCertDays for terminals
  // and admins, kDefaultServerCertDays for servers).
  int64_t not_before_ms = 0;
  int64_t validity_days = 0;
};

// The validity IssueCertificate gives `request`.
int64_t EffectiveValidityDays(const IssueRequest& request);

// A new self-signed ECDSA P-256 root CA (basicConstraints CA:TRUE
// pathlen:1, keyCertSign + cRLSign): it signs issuing CAs, and leaves
// directly where a deployment has no issuing CA. Its key belongs offline.
Result<KeyAndCert> CreateCa(std::string_view common_name, int64_t validity_days,
                            int64_t not_before_ms = 0);

// A new ECDSA P-256 issuing (intermediate) CA signed by `root`
// (basicConstraints CA:TRUE pathlen:0 critical, keyUsage keyCertSign +
// cRLSign critical, subject and authority key ids). The collector holds its
// key and signs terminal certificates with it, so the root key can stay
// offline. Refused when the root cannot sign CAs (a root made with
// pathlen:0) or the new CA would outlive the root. `cert_pem` holds the
// issuing CA's certificate only.
Result<KeyAndCert> CreateIssuingCa(const KeyAndCert& root, std::string_view common_name,
                                   int64_t validity_days, int64_t not_before_ms = 0);

// Issues an ECDSA P-256 certificate signed by `ca`, with a fresh key.
// Servers get extendedKeyUsage serverAuth, terminals and admins clientAuth.
// `ca` is the root or an issuing CA; when it is an issuing CA, the returned
// cert_pem is the leaf followed by the issuing CA's certificate (the chain
// the holder presents in the TLS handshake).
Result<KeyAndCert> IssueCertificate(const KeyAndCert& ca, const IssueRequest& request);

// RFC 5280 revocation reasons a CRL entry may carry.
enum class CrlReason {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
  kCertificateHold = 6,
  kPrivilegeWithdrawn = 9,
};

struct CrlEntry {
  std::string serial_hex;  // as CertInfo::serial_hex; upper or lower case
  int64_t revoked_at_ms = 0;
  CrlReason reason = CrlReason::kUnspecified;
};

// A v2 CRL signed by `issuer` (the CA that issued the listed certificates),
// PEM. Carries the authority key id and `crl_number`; entries carry their
// revocation time and reason code. next_update_ms must follow this_update_ms.
Result<std::string> CreateCrl(const KeyAndCert& issuer, const std::vector<CrlEntry>& entries,
                              int64_t this_update_ms, int64_t next_update_ms, uint64_t crl_number);

struct CertInfo {
  std::string subject;     // one-line RFC 2253 form
  std::string issuer;      // one-line RFC 2253 form
  std::string serial_hex;  // upper-case hex, no leading zeros (as openssl prints it)
  std::string common_name;
  std::vector<std::string> uris;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  std::string sha256_fingerprint;  // lower-case hex of the DER
  bool is_ca = false;
};

// Parses the first certificate in `pem`.
Result<CertInfo> InspectCertificate(std::string_view pem);
// Parses every certificate in `pem`, in order; at least one.
Result<std::vector<CertInfo>> InspectCertificateChain(std::string_view pem);

enum class CertPurpose { kClient, kServer };

// Verifies the first certificate of `chain_pem` (followed by optional
// intermediates) against the trust anchor(s) in `ca_pem` at time `now_ms`,
// for the given purpose. The error message says why, in words a person can
// act on, e.g. "certificate has expired (not after 2026-01-01T00:00:00Z)"
// or "unable to get local issuer certificate (not issued by this CA)".
Status VerifyCertificate(std::string_view ca_pem, std::string_view chain_pem, int64_t now_ms,
                         CertPurpose purpose);

// True when the private key belongs to the certificate.
Status CheckKeyMatchesCertificate(std::string_view key_pem, std::string_view cert_pem);

// "2026-11-22T03:04:05Z".
std::string FormatUtc(int64_t ms);

}  // namespace mamori
