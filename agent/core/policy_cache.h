#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "agent/transport/collector_client.h"
#include "common/result.h"

namespace mamori {

// Where the agent keeps the last policy bundle it accepted, so that it
// enforces that policy from its next start on, before (or without) reaching
// the collector. The cache is not trusted: the agent verifies the bundle's
// signature again when it loads it.
class PolicyCache {
 public:
  virtual ~PolicyCache() = default;
  // The cached bundle; nullopt when there is none. An error when something
  // is there but cannot be read or decoded.
  virtual Result<std::optional<PolicyUpdate>> Load() = 0;
  // The highest version ever accepted (0 = none): a validly signed but
  // older bundle swapped into the cache is refused as a rollback.
  virtual Result<uint64_t> HighestAccepted() = 0;
  // Stores `bundle` durably, then raises the highest accepted version to
  // its version (never lowers it).
  virtual Status Save(const PolicyUpdate& bundle) = 0;
  // The location, for messages.
  virtual std::string Describe() const = 0;
};

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
  Result<std::optional<PolicyUpdate>> Load() override;
  Result<uint64_t> HighestAccepted() override;
  Status Save(const PolicyUpdate& bundle) override;
  std::string Describe() const override { return bundle_path_; }

  const std::string& bundle_path() const { return bundle_path_; }
  const std::string& highest_path() const { return highest_path_; }

 private:
  const std::string bundle_path_;
  const std::string highest_path_;
};

// The bundle file's bytes: a serialized mamori.v1.PolicyBundle. Exposed for
// tests that forge or alter cache files.
std::string EncodePolicyBundle(const PolicyUpdate& bundle);
Result<PolicyUpdate> DecodePolicyBundle(std::string_view bytes);

}  // namespace mamori
