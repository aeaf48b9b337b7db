#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// What a revocation record does.
enum class RevocationKind {
  kRevoke,  // the identity, or one certificate, may no longer connect
  kRetire,  // the terminal is decommissioned: out of the counts, and may not connect
};
std::string_view RevocationKindName(RevocationKind kind);  // "revoke", "retire"

// One revocation or retirement as the collector recorded it. Records are
// never changed or deleted: a revocation is permanent.
struct RevocationRecord {
  int64_t id = 0;  // assigned by the store
  RevocationKind kind = RevocationKind::kRevoke;
  std::string role;         // "terminal" or "admin" (PeerRoleName)
  std::string subject;      // terminal id or admin name
  std::string cert_sha256;  // lower-case hex of one certificate's DER; "" = the whole identity
  std::string reason;
  std::string actor;  // "cert:mamori://admin/ops", "web:alice"
  int64_t at_ms = 0;
};

// The collector's revocations and retirements.
class RevocationRepository {
 public:
  virtual ~RevocationRepository() = default;

  // Stores a new record; kAlreadyExists when the same kind, role, subject
  // and certificate were recorded before.
  virtual Result<int64_t> AddRevocation(const RevocationRecord& record) = 0;
  // Every record, oldest first.
  virtual Result<std::vector<RevocationRecord>> ListRevocations() = 0;
};

}  // namespace mamori
