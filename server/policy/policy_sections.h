#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>

namespace mamori {

// Sections of a policy document the collector keeps itself (the media
// ledger's registered_media, the approved exceptions) are replaced by line,
// so the rest of what the admin wrote stays as written, comments included.
//
// `yaml` with its top-level `key` section replaced by `block` (which holds
// the key and its lines), or `block` appended when there is none. `root` is
// `yaml` loaded. nullopt when the document's shape does not allow it (the
// top level is not a block mapping with its keys in column 0, in order):
// the caller then re-emits the whole document.
std::optional<std::string> SpliceTopLevelSection(std::string_view yaml, const YAML::Node& root,
                                                 std::string_view key, const std::string& block);

}  // namespace mamori
