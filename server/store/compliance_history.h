#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// The compliance counts of one group on one JST day (the dashboard's trend).
struct ComplianceSnapshot {
  std::string date;   // "YYYY-MM-DD", JST
  std::string group;  // "" = the whole deployment
  uint32_t terminals = 0;
  uint32_t compliant = 0;
  uint32_t non_compliant = 0;
  uint32_t unknown = 0;
  uint32_t stale = 0;  // reporting check failing
  int64_t recorded_at_ms = 0;
};

// The daily compliance counts the trend chart shows.
class ComplianceHistory {
 public:
  virtual ~ComplianceHistory() = default;

  // Inserts or replaces the rows of (date, group), all in one transaction.
  virtual Status PutComplianceSnapshots(const std::vector<ComplianceSnapshot>& rows) = 0;
  // The rows of `group` with from_date <= date <= to_date ("YYYY-MM-DD"),
  // oldest first.
  virtual Result<std::vector<ComplianceSnapshot>> ComplianceSnapshots(std::string_view group,
                                                                      std::string_view from_date,
                                                                      std::string_view to_date) = 0;
};

}  // namespace mamori
