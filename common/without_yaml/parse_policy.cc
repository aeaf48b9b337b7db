// ParsePolicy for builds without yaml-cpp (the mingw-w64 cross build of the
// Windows agent; Debian has no mingw yaml-cpp). Such a build has no policy
// files: it enforces BuiltinDefaultPolicy(). Linked instead of
// common/policy.cc by common/CMakeLists.txt, never together with it.
#include "common/policy.h"

namespace mamori {

Result<Policy> ParsePolicy(std::string_view /*yaml_text*/, std::string_view source_name) {
  return MakeError(
      ErrorCode::kFailedPrecondition,
      std::string(source_name) + ": cannot read policy: this build has no YAML parser (yaml-cpp)");
}

}  // namespace mamori
