#include "server/collector/policy_resolver.h"

#include <utility>

namespace mamori {

PolicyResolver::PolicyResolver(std::vector<StoredPolicy> latest) {
  for (StoredPolicy& p : latest) {
    auto it = by_group_.find(p.group);
    if (it == by_group_.end()) {
      std::string group = p.group;
      by_group_.emplace(std::move(group), std::move(p));
    } else if (p.version > it->second.version) {
      it->second = std::move(p);
    }
  }
}

const StoredPolicy* PolicyResolver::Resolve(std::string_view group) const {
  while (true) {
    if (auto it = by_group_.find(group); it != by_group_.end()) return &it->second;
    if (group.empty()) return nullptr;
    const std::size_t slash = group.rfind('/');
    group = slash == std::string_view::npos ? std::string_view() : group.substr(0, slash);
  }
}

}  // namespace mamori
