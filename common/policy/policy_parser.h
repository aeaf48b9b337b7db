#pragma once

#include <string_view>

#include "common/base/result.h"
#include "common/policy/policy.h"

namespace mamori {

// Parses and validates a policy document. On failure the error lists every
// problem as "source:line:column: field: message".
Result<Policy> ParsePolicy(std::string_view yaml_text, std::string_view source_name);

}  // namespace mamori
