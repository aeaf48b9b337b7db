#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// One entry of the media ledger (外部記録媒体管理台帳). Rows are never
// deleted; a retired entry keeps who retired it, when and why.
struct LedgerEntry {
  int64_t id = 0;  // assigned by the store, never reused
  std::string serial;
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  std::string owner;
  std::string department;
  std::string group;       // scope: this group and its descendants; "" = all
  int64_t expires_ms = 0;  // last valid millisecond; 0 = never expires
  std::string note;
  std::string added_by;  // actor, e.g. "web:alice"
  int64_t added_at_ms = 0;
  std::string retired_by;
  int64_t retired_at_ms = 0;  // 0 = active
  std::string retire_reason;

  bool active() const { return retired_at_ms == 0; }
};

// The media ledger (外部記録媒体管理台帳).
class LedgerRepository {
 public:
  virtual ~LedgerRepository() = default;

  // The media ledger. AddLedgerEntry returns the new id; kAlreadyExists
  // when an active entry registers the same medium in the same scope.
  virtual Result<int64_t> AddLedgerEntry(const LedgerEntry& entry) = 0;
  // kNotFound for an unknown id, kFailedPrecondition when already retired.
  virtual Status RetireLedgerEntry(int64_t id, std::string_view retired_by, int64_t at_ms,
                                   std::string_view reason) = 0;
  virtual Result<std::optional<LedgerEntry>> GetLedgerEntry(int64_t id) = 0;
  // By id; retired entries only when asked for.
  virtual Result<std::vector<LedgerEntry>> ListLedger(bool include_retired) = 0;
};

}  // namespace mamori
