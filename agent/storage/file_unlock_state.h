#pragma once

#include <string>
#include <string_view>

#include "agent/core/unlock_service.h"

namespace mamori {

// unlock.state in the agent's state directory (root or SYSTEM only): the
// used unlock codes and recent failed attempts, replaced atomically.
class FileUnlockStateStore final : public UnlockStateStore {
 public:
  explicit FileUnlockStateStore(std::string state_dir);
  Result<std::optional<std::string>> Load() override;
  Status Save(std::string_view state) override;
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
};

}  // namespace mamori
