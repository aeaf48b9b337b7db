#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "server/tls/revocation_list.h"

namespace mamori::testing {

// An in-memory deny list: identities and certificate fingerprints mapped to
// the reason they were revoked.
class FakeRevocationList final : public RevocationList {
 public:
  void RevokeIdentity(PeerRole role, std::string id, std::string reason) {
    std::lock_guard lock(mu_);
    identities_[{role, std::move(id)}] = std::move(reason);
  }
  void RevokeCertificate(std::string sha256, std::string reason) {
    std::lock_guard lock(mu_);
    certificates_[std::move(sha256)] = std::move(reason);
  }

  std::optional<std::string> RevokedReason(PeerRole role, std::string_view id,
                                           std::string_view cert_sha256) const override {
    std::lock_guard lock(mu_);
    if (auto it = identities_.find({role, std::string(id)}); it != identities_.end()) {
      return it->second;
    }
    if (auto it = certificates_.find(std::string(cert_sha256)); it != certificates_.end()) {
      return it->second;
    }
    return std::nullopt;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<PeerRole, std::string>, std::string> identities_;
  std::map<std::string, std::string> certificates_;
};

}  // namespace mamori::testing
