#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/clock.h"
#include "common/base/jst_time.h"
#include "common/base/result.h"
#include "common/crypto/csr.h"
#include "common/crypto/pki.h"
#include "server/audit/audit_trail.h"
#include "server/enrollment/attempt_limiter.h"
#include "server/ingest/certificate_renewer.h"
#include "server/store/store.h"
#include "server/tls/revocation_list.h"

namespace mamori {

// How an enrolling terminal's id is chosen.
enum class TerminalIdRule {
  kHostname,  // the host name the agent sends, lower-cased
  kRequest,   // the agent's terminal_id if set, else its host name (lower-cased)
};

// The collector config's `enrollment:` section.
struct EnrollmentSettings {
  // host:port of the enrollment port (server-authenticated TLS only), or
  // several separated by commas; empty = no enrollment port.
  std::string listen;
  std::string port_file;  // the bound port is written here (port 0 picks one)
  // The issuing CA (its certificate may be followed by its chain up to the
  // root). Without them neither enrollment nor renewal is offered.
  std::string issuing_ca_cert_file;
  std::string issuing_ca_key_file;
  int64_t certificate_lifetime_ms = 30 * kDayMs;
  TerminalIdRule terminal_id_rule = TerminalIdRule::kHostname;
  int max_attempts_per_minute = 10;
  // A terminal that reported within this window counts as active: its id
  // cannot be enrolled again without an allowance.
  int64_t active_window_ms = 30 * kDayMs;
  std::size_t max_tracked_addresses = 100'000;
};

inline constexpr int64_t kMinCertificateLifetimeMs = 5 * 60'000;
inline constexpr int64_t kMaxCertificateLifetimeMs = 397 * kDayMs;

// What an agent sends to enroll, with the transport's source address.
struct EnrollInput {
  std::string token;
  std::string csr_pem;
  std::string hostname;
  std::string terminal_id;
  std::string agent_version;
  std::string os;
  std::string peer;  // gRPC peer string ("ipv4:10.0.0.5:50123")
};

struct TokenSpec {
  std::string group;
  int64_t uses = 1;                    // 1..100000
  int64_t expires_in_ms = 7 * kDayMs;  // up to 365 days
  std::string note;                    // up to 256 bytes
};

inline constexpr int64_t kMaxTokenUses = 100'000;
inline constexpr int64_t kMaxTokenLifetimeMs = 365 * kDayMs;

// "a:1, b:2" -> {"a:1", "b:2"}: enrollment.listen may name several
// addresses (IPv4 and IPv6 loopback or interfaces side by side).
std::vector<std::string> SplitListenAddresses(std::string_view listen);

// Reads the issuing CA's files and checks that the key matches, that it is
// a CA and that it chains to `root_ca_pem` at `now_ms`. Errors name the
// config field and file.
Result<KeyAndCert> LoadIssuingCa(const EnrollmentSettings& settings, std::string_view root_ca_pem,
                                 int64_t now_ms);

// Enrollment of new terminals with tokens, renewal of certificates, and the
// admin side of tokens. Thread-safe.
class EnrollmentWorkflow final : public CertificateRenewer {
 public:
  // `revocations` may be null (no deny list yet).
  EnrollmentWorkflow(Store* store, AuditTrail* audit, const RevocationList* revocations,
                     const Clock* clock, EnrollmentSettings settings, KeyAndCert issuer,
                     std::string root_ca_pem);

  // Checks, in order: attempts per source address, token, CSR, terminal id,
  // revocation, clash with an active terminal. Errors carry the code the
  // caller sees; token failures all read the same.
  Result<IssuedCredential> Enroll(const EnrollInput& input);
  Result<IssuedCredential> Renew(const RenewalCaller& caller, std::string_view csr_pem) override;

  // Returns the stored token and its text (shown once).
  Result<std::pair<EnrollToken, std::string>> CreateToken(std::string_view actor,
                                                          const TokenSpec& spec);
  Result<std::vector<EnrollToken>> ListTokens();
  Status RevokeToken(std::string_view actor, std::string_view id);
  Result<std::vector<EnrollmentRecord>> ListEnrollments(uint32_t limit);
  // One more enrollment of an id in use, within `valid_for_ms`.
  Status AllowReenrollment(std::string_view actor, std::string_view terminal_id,
                           int64_t valid_for_ms);

  const EnrollmentSettings& settings() const { return settings_; }

 private:
  Result<std::string> ChooseTerminalId(const EnrollInput& input) const;
  Result<bool> IsActive(std::string_view terminal_id, int64_t now_ms);
  IssuedCredential Credential(const std::string& id, const std::string& group,
                              SignedCertificate&& cert) const;

  Store* store_;
  AuditTrail* audit_;
  const RevocationList* revocations_;
  const Clock* clock_;
  const EnrollmentSettings settings_;
  const KeyAndCert issuer_;
  const std::string root_ca_pem_;
  AttemptLimiter limiter_;
};

}  // namespace mamori
