#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// One administrative action (append-only).
struct AuditRecord {
  int64_t id = 0;  // assigned by the store, increasing
  int64_t at_ms = 0;
  std::string actor;   // "web:alice", "cert:mamori://admin/ops"
  std::string action;  // "ledger.add", "policy.apply", ...
  std::string target;
  std::string detail;
  std::string outcome;  // "ok", "denied", "failed"
};

struct AuditQuery {
  std::string actor;      // exact; empty = any
  std::string action;     // exact; empty = any
  int64_t since_ms = 0;   // inclusive; 0 = unbounded
  int64_t until_ms = 0;   // exclusive; 0 = unbounded
  int64_t before_id = 0;  // only older entries (paging); 0 = from the newest
  uint32_t limit = 100;   // 0 = 100
};

// The audit log of administrative actions.
class AuditRepository {
 public:
  virtual ~AuditRepository() = default;

  // The audit log: append and read only, nothing updates or deletes it.
  virtual Result<int64_t> AppendAudit(const AuditRecord& record) = 0;
  // Newest first.
  virtual Result<std::vector<AuditRecord>> QueryAudit(const AuditQuery& query) = 0;
};

}  // namespace mamori
