#pragma once

#include <string>
#include <string_view>

#include "common/base/logging.h"
#include "common/base/yaml_reader.h"

namespace mamori {

// What the agent's and the collector's YAML configuration files share.

// `path` as written in a configuration file: relative paths are relative
// to the file's directory `base_dir`; empty stays empty.
std::string ResolveConfigPath(std::string_view base_dir, const std::string& path);

// The optional `log:` section (level, format, file) into `out`; problems
// are recorded in `r` with their line and field.
void ReadLogSection(YamlReader& r, const YAML::Node& log, std::string_view base_dir,
                    LogConfig& out);

}  // namespace mamori
