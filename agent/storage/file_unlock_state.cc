#include "agent/storage/file_unlock_state.h"

#include "agent/storage/durable_file.h"

namespace mamori {

FileUnlockStateStore::FileUnlockStateStore(std::string state_dir)
    : path_(PathToUtf8(PathFromUtf8(state_dir) / "unlock.state")) {}

Result<std::optional<std::string>> FileUnlockStateStore::Load() {
  return ReadFileIfExists(PathFromUtf8(path_));
}

Status FileUnlockStateStore::Save(std::string_view state) {
  return WriteFileAtomically(PathFromUtf8(path_), state);
}

}  // namespace mamori
