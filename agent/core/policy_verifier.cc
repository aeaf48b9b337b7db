#include "agent/core/policy_verifier.h"

namespace mamori {

Status PinnedKeyPolicyVerifier::Verify(const PolicyUpdate& bundle) const {
  return key_.Verify(bundle.version, bundle.group, bundle.policy_yaml, bundle.signature,
                     bundle.key_id);
}

}  // namespace mamori
