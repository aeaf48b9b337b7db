#pragma once

// Trust in a collector that a terminal has never met: the operator hands the
// agent the SHA-256 fingerprint of the deployment's root CA certificate (one
// line in the installer or the config), and the agent trusts a server only
// when the chain it presents validates up to a certificate with exactly that
// fingerprint. No CA file has to be copied to the terminal beforehand.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace mamori {

// Normalises a fingerprint as operators write it ("AB:CD:...", "ab cd ...",
// plain hex, either case) to 64 lower-case hex digits. The error says what
// is wrong (not hex, wrong length) without echoing a secret: fingerprints
// are public.
Result<std::string> ParseCaFingerprint(std::string_view text);

// Lower-case hex SHA-256 of the DER of the first certificate in `pem`.
Result<std::string> CertificateFingerprint(std::string_view pem);

// "AB:CD:..." as `openssl x509 -fingerprint -sha256` prints it.
std::string FormatFingerprint(std::string_view hex);

// Checks a server's TLS chain against the pin and returns the PEM of the
// pinned certificate (the trust anchor from now on). `chain_pem` is what the
// server presented, leaf first (gRPC's peer_cert_full_chain). One of its
// certificates must have the pinned fingerprint and be a CA; the leaf must
// chain to it (signatures, validity at `now_ms`, CA constraints, TLS server
// purpose) and name `host` (a DNS name or an IP address) in its SANs.
// Errors say which step failed and list the presented certificates'
// subjects and fingerprints, so a wrong pin is easy to tell from a
// collector that does not send its root.
Result<std::string> VerifyChainAgainstPin(std::string_view chain_pem, std::string_view pin_hex,
                                          std::string_view host, int64_t now_ms);

}  // namespace mamori
