#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "server/store/store.h"

namespace mamori {

// Finds the policy in force for a group: groups inherit from their ancestors
// ("osaka/suita/hoken" -> "osaka/suita" -> "osaka"), and a policy stored for
// the group "" applies to the whole deployment.
class PolicyResolver {
 public:
  // `latest` holds the latest version per group (Store::LatestPolicies());
  // should a group appear twice, its highest version is kept.
  explicit PolicyResolver(std::vector<StoredPolicy> latest);

  // The group's own policy, or the nearest ancestor's, or nullptr. The
  // pointer lives as long as the resolver.
  const StoredPolicy* Resolve(std::string_view group) const;

 private:
  std::map<std::string, StoredPolicy, std::less<>> by_group_;
};

}  // namespace mamori
