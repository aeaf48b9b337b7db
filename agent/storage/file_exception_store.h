#pragma once

#include <string>
#include <string_view>

#include "agent/core/exception_store.h"
#include "common/base/result.h"

namespace mamori {

// In the agent's state directory, `exceptions.state`, written atomically
// (temp file, fsync, rename, directory fsync). A text format of one record
// per line, every string hex-encoded so that no byte a device or a reason
// holds can break a line:
//
//   mamori-exceptions 1
//   skew <skew_ms> <measured_at_ms>
//   local <id> <terminal_id> <vid> <pid> <serial> <not_before_ms> <not_after_ms> <reason>
//
// (id, terminal_id, serial and reason in hex; vid and pid as 4 hex digits.)
class FileExceptionStore final : public ExceptionStore {
 public:
  explicit FileExceptionStore(std::string state_dir);
  Result<ExceptionState> Load() override;
  Status Save(const ExceptionState& state) override;
  std::string Describe() const override { return path_; }

 private:
  const std::string path_;
};

// The file's bytes; exposed for tests that damage them.
std::string EncodeExceptionState(const ExceptionState& state);
Result<ExceptionState> DecodeExceptionState(std::string_view text);

}  // namespace mamori
