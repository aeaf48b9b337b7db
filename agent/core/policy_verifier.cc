#include "agent/core/policy_verifier.h"

namespace mamori {

Status PinnedKeyPolicyVerifier::Verify(const PolicyBundle& bundle) const {
  return key_.Verify(bundle);
}

}  // namespace mamori
