#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/policy/policy_bundle.h"

namespace mamori {

// Every version of every group's policy, signed, with the document the
// admin applied before the ledger was merged in.
class PolicyRepository {
 public:
  virtual ~PolicyRepository() = default;

  // Stores a new version for the group. Versions are one deployment-wide
  // revision counter (highest stored + 1, from 1), so they increase per group
  // and also never go down for a terminal whose policy moves from an
  // inherited one to its group's own: agents can refuse any older version.
  virtual Result<PolicyBundle> PutPolicy(std::string_view group, std::string_view yaml,
                                         std::string_view applied_by, int64_t now_ms) = 0;
  // Records the signature of a stored version (when it is applied, and when
  // the collector re-signs at start after an upgrade or a key rotation).
  virtual Status SetPolicySignature(std::string_view group, uint64_t version,
                                    std::string_view signature, std::string_view key_id) = 0;
  // The group's own policy (no inheritance); version 0 = latest.
  virtual Result<std::optional<PolicyBundle>> GetPolicy(std::string_view group,
                                                        uint64_t version) = 0;
  // The latest version of every group that has a policy.
  virtual Result<std::vector<PolicyBundle>> LatestPolicies() = 0;
  // Every version of the group, oldest first.
  virtual Result<std::vector<PolicyBundle>> PolicyHistory(std::string_view group) = 0;
  // The group's latest `limit` versions (0 = all), newest first: who applied
  // what and when, for `mamorictl policy history`.
  virtual Result<std::vector<PolicyBundle>> RecentPolicyVersions(std::string_view group,
                                                                 uint32_t limit) = 0;

  // The document an admin applied for a stored version, before the
  // collector merged the ledger's media into it; a version stored without
  // one reads as its own yaml.
  virtual Status SetPolicySource(std::string_view group, uint64_t version,
                                 std::string_view source_yaml) = 0;
  virtual Result<std::string> PolicySource(std::string_view group, uint64_t version) = 0;
};

}  // namespace mamori
