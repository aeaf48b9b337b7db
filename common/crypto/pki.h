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
  // (tolerates small clock differences); validity_days counts from then.
  int64_t not_before_ms = 0;
  int64_t validity_days = 397;
  // When > 0, the lifetime in seconds, counted from not_before, instead of
  // validity_days: enrolled terminals get certificates of minutes to days.
  int64_t validity_seconds = 0;
};

// A new self-signed ECDSA P-256 CA (basicConstraints CA:TRUE, keyCertSign).
Result<KeyAndCert> CreateCa(std::string_view common_name, int64_t validity_days,
                            int64_t not_before_ms = 0);

// Issues an ECDSA P-256 certificate signed by `ca`, with a fresh key.
// Servers get extendedKeyUsage serverAuth, terminals and admins clientAuth.
Result<KeyAndCert> IssueCertificate(const KeyAndCert& ca, const IssueRequest& request);

struct CertInfo {
  std::string subject;  // one-line RFC 2253 form
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
