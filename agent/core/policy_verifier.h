#pragma once

#include <string>

#include "agent/core/collector_client.h"
#include "common/base/result.h"
#include "common/policy/policy_signing.h"

namespace mamori {

// Decides whether a policy bundle comes from the deployment's collector.
class PolicyVerifier {
 public:
  virtual ~PolicyVerifier() = default;
  // Ok when the bundle's signature verifies; otherwise an error saying why
  // (unsigned, another key, signature does not verify).
  virtual Status Verify(const PolicyBundle& bundle) const = 0;
  // Names the trusted key in messages.
  virtual std::string Describe() const = 0;
};

// Trusts exactly one Ed25519 public key, pinned from the agent's config
// (policy.public_key_file).
class PinnedKeyPolicyVerifier final : public PolicyVerifier {
 public:
  explicit PinnedKeyPolicyVerifier(PolicyPublicKey key) : key_(std::move(key)) {}
  Status Verify(const PolicyBundle& bundle) const override;
  std::string Describe() const override { return "pinned policy key " + key_.key_id(); }

 private:
  const PolicyPublicKey key_;
};

}  // namespace mamori
