#include "agent/storage/seq_file.h"

#include <charconv>
#include <string_view>

#include "agent/storage/durable_file.h"

namespace mamori {

Result<std::optional<uint64_t>> ReadSeqFile(const std::string& path) {
  auto text = ReadFileIfExists(PathFromUtf8(path));
  if (!text.ok()) return text.error();
  if (!text->has_value()) return std::optional<uint64_t>();
  std::string_view s = **text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.remove_suffix(1);
  }
  uint64_t v = 0;
  auto [ptr, parse_ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || parse_ec != std::errc() || ptr != s.data() + s.size()) {
    return MakeError(
        ErrorCode::kFailedPrecondition,
        path + ": expected a decimal counter, found '" + std::string(s.substr(0, 32)) + "'");
  }
  return std::optional<uint64_t>(v);
}

Status WriteSeqFile(const std::string& path, uint64_t value) {
  return WriteFileAtomically(PathFromUtf8(path), std::to_string(value) + "\n");
}

}  // namespace mamori
