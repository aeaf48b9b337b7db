#pragma once

#include <string>
#include <string_view>

#include "agent/core/policy_cache.h"
#include "common/base/result.h"

namespace mamori {

// In the agent's state directory:
//   policy.bundle   the bundle as the collector sent it (a serialized
//                   mamori.v1.PolicyBundle), written to a temp file, fsynced,
//                   renamed into place, directory fsynced
//   policy.highest  the highest accepted version, decimal, written the same way
// The bundle is written first: a crash between the two leaves a newer
// bundle with an older mark, which loads fine; the other order would make
// the agent refuse its own cache.
class FilePolicyCache final : public PolicyCache {
 public:
  explicit FilePolicyCache(std::string state_dir);
  Result<std::optional<PolicyBundle>> Load() override;
  Result<uint64_t> HighestAccepted() override;
  Status Save(const PolicyBundle& bundle) override;
  std::string Describe() const override { return bundle_path_; }

  const std::string& bundle_path() const { return bundle_path_; }
  const std::string& highest_path() const { return highest_path_; }

 private:
  const std::string bundle_path_;
  const std::string highest_path_;
};

// The bundle file's bytes: a serialized mamori.v1.PolicyBundle. Exposed for
// tests that forge or alter cache files.
std::string EncodePolicyBundle(const PolicyBundle& bundle);
Result<PolicyBundle> DecodePolicyBundle(std::string_view bytes);

}  // namespace mamori
