#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// An enrollment token as the collector keeps it: only the SHA-256 of the
// secret, never the secret itself.
struct EnrollToken {
  std::string id;             // short public part of the token, names it in lists
  std::string secret_sha256;  // lower-case hex of SHA-256 over the whole token text
  std::string group;          // the group enrolled terminals join
  int64_t uses_total = 1;
  int64_t uses_left = 1;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  std::string created_by;  // audit actor
  std::string note;
  int64_t revoked_ms = 0;  // 0 = not revoked
  std::string revoked_by;
  int64_t last_used_ms = 0;  // 0 = never used
};

// Why a token was not taken.
enum class TokenRefusal { kNone, kUnknown, kUsedUp, kExpired, kRevoked };

// A certificate the collector's issuing CA signed (enrollment or renewal).
struct IssuedCertificateRecord {
  std::string serial_hex;
  std::string sha256_fingerprint;
  std::string role;  // "terminal", "admin"
  std::string subject_id;
  std::string group;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  std::string reason;    // "enroll", "renew"
  std::string token_id;  // enrollments only
  std::string source_address;
  int64_t issued_ms = 0;
};

// One successful enrollment.
struct EnrollmentRecord {
  int64_t id = 0;  // assigned by the store, increasing
  std::string terminal_id;
  std::string group;
  std::string token_id;
  std::string source_address;
  std::string serial_hex;
  std::string hostname;
  std::string agent_version;
  std::string os;
  int64_t at_ms = 0;
};

// Enrollment tokens, enrollments, re-enrollment allowances and the
// certificates issued through them.
class EnrollmentRepository {
 public:
  virtual ~EnrollmentRepository() = default;

  // kAlreadyExists when the id is taken.
  virtual Status AddEnrollToken(const EnrollToken& token) = 0;
  virtual Result<std::optional<EnrollToken>> GetEnrollToken(std::string_view id) = 0;
  // Newest first.
  virtual Result<std::vector<EnrollToken>> ListEnrollTokens() = 0;
  // False when no such token (a token revoked twice keeps its first revocation).
  virtual Result<bool> RevokeEnrollToken(std::string_view id, std::string_view by,
                                         int64_t at_ms) = 0;
  // Atomically takes one use of the token if it is unrevoked, unexpired at
  // now_ms and has uses left; otherwise says why not.
  virtual Result<TokenRefusal> TakeEnrollTokenUse(std::string_view id, int64_t now_ms) = 0;

  virtual Status AddIssuedCertificate(const IssuedCertificateRecord& record) = 0;
  // The latest not_after of any certificate issued to (role, id); 0 if none.
  virtual Result<int64_t> LatestCertificateExpiry(std::string_view role,
                                                  std::string_view subject_id) = 0;
  // Newest first, for one subject or (empty) all.
  virtual Result<std::vector<IssuedCertificateRecord>> ListIssuedCertificates(
      std::string_view subject_id, uint32_t limit) = 0;

  virtual Result<int64_t> AddEnrollment(const EnrollmentRecord& record) = 0;
  // Newest first; limit 0 = 100.
  virtual Result<std::vector<EnrollmentRecord>> ListEnrollments(uint32_t limit) = 0;

  // Lets the terminal id enroll once more, until `until_ms`, although it is
  // in use. A second allowance replaces the first.
  virtual Status AllowReenrollment(std::string_view terminal_id, std::string_view by,
                                   int64_t until_ms) = 0;
  // Consumes the allowance if one is valid at now_ms.
  virtual Result<bool> TakeReenrollment(std::string_view terminal_id, int64_t now_ms) = 0;
};

}  // namespace mamori
