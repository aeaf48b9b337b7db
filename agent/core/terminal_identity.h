#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace mamori {

// The terminal's own TLS identity as the agent uses it.
struct TerminalIdentity {
  std::string key_pem;   // private key, never leaves the terminal
  std::string cert_pem;  // leaf followed by its chain below the root
  std::string ca_pem;    // the root the pin matched: trust anchor for the collector
  std::string terminal_id;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
};

// A certificate the collector issued (mamori.v1.IssuedCertificate).
struct IssuedCertificate {
  std::string terminal_id;
  std::string group;
  std::string certificate_pem;
  std::string chain_pem;
  std::string ca_pem;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  std::string serial;
};

// A fresh private key and a PKCS#10 request for it, both PEM.
struct KeyAndRequest {
  std::string key_pem;
  std::string csr_pem;
};

// What the agent tells the enrollment service about itself.
struct EnrollmentParams {
  std::string token;
  std::string csr_pem;
  std::string hostname;
  std::string terminal_id;  // "" = let the host name decide
  std::string agent_version;
  std::string os;
};

// The enrollment port: server-authenticated TLS to a CA pinned by
// fingerprint. Errors carry the collector's reason.
class EnrollmentClient {
 public:
  virtual ~EnrollmentClient() = default;
  virtual Result<IssuedCertificate> Enroll(const EnrollmentParams& params) = 0;
};

// The agent's mutual-TLS channel as far as its own certificate is
// concerned. Implementations are thread-safe.
class IdentityChannel {
 public:
  virtual ~IdentityChannel() = default;
  // AgentService.RenewCertificate with the identity in use.
  virtual Result<IssuedCertificate> RenewCertificate(std::string_view csr_pem) = 0;
  // Calls from now on use `identity` (calls in flight finish on the old one).
  virtual void UseIdentity(const TerminalIdentity& identity) = 0;
  // True once a call made with the identity last given to UseIdentity
  // succeeded: the collector accepts it.
  virtual bool IdentityProven() = 0;
};

// Where the identity is kept. A renewal writes a pending pair next to the
// current one: the key before the request leaves the terminal, the
// certificate once issued; Promote makes it current after it was used
// successfully. A crash at any point leaves a usable matching pair.
class IdentityStore {
 public:
  virtual ~IdentityStore() = default;
  // The identity to use: the current pair, or the pending one when the
  // current is missing, broken or expired at `now_ms`; nullopt when there
  // is none yet. An error only for an unreadable store.
  virtual Result<std::optional<TerminalIdentity>> Load(int64_t now_ms) = 0;
  virtual Status SavePendingKey(std::string_view key_pem) = 0;
  // Checks the certificate against the pending key, then writes it.
  virtual Result<TerminalIdentity> SavePendingCertificate(const IssuedCertificate& issued) = 0;
  virtual Status Promote() = 0;
  virtual Status DiscardPending() = 0;
};

}  // namespace mamori
