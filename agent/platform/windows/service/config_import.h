#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// Bounds of a configuration import: a deployment's agent.yaml, its TLS files
// and the pinned policy key are a handful of small files.
inline constexpr std::size_t kMaxImportedFiles = 32;
inline constexpr std::uintmax_t kMaxImportedFileBytes = 1 << 20;

// Copies a deployment's configuration into the agent's configuration
// directory, as the MSI does with CONFIG_SOURCE=DIR (`mamori-agent.exe
// configure --import-config DIR`): every regular file directly in `source`,
// which must hold agent.yaml; at most kMaxImportedFiles of at most
// kMaxImportedFileBytes each, checked before anything is copied, so a bad
// source changes nothing. Files of the same name are replaced (redeploying
// rotates them), others in `config_dir` are kept. Returns the names copied.
Result<std::vector<std::string>> ImportConfig(const std::filesystem::path& source,
                                              const std::filesystem::path& config_dir);

}  // namespace mamori
