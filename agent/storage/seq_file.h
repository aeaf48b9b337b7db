#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/base/result.h"

namespace mamori {

// A seq counter kept in a small text file under the agent's state directory
// ("42\n"), written atomically (durable_file.h). Paths are UTF-8.

// nullopt when the file is absent; an error when it is unreadable or not a
// number, naming the file.
Result<std::optional<uint64_t>> ReadSeqFile(const std::string& path);

Status WriteSeqFile(const std::string& path, uint64_t value);

}  // namespace mamori
