#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// One problem found in a configuration or policy file, located precisely.
struct ValidationError {
  std::string file;
  int line = 0;       // 1-based; 0 when unknown
  int column = 0;     // 1-based; 0 when unknown
  std::string field;  // dotted path, e.g. "rules[2].match.vid_pid"
  std::string message;

  // "file:line:column: field: message"
  std::string ToString() const;
};

// Reads typed fields from a YAML document and collects every problem with
// file, line, column and field path, so a user sees all mistakes at once.
// Unknown keys are errors: a typo must never be silently ignored in a
// security policy.
class YamlReader {
 public:
  explicit YamlReader(std::string source_name) : source_(std::move(source_name)) {}

  // Parses text; a syntax error is recorded and an undefined node returned.
  YAML::Node Load(std::string_view text);
  // Reads a whole file; a missing or unreadable file is recorded.
  YAML::Node LoadFile(const std::string& path);

  // Records an error located at `node` (or at the file when undefined).
  void Fail(const YAML::Node& node, std::string_view field, std::string message);

  // `node` must be a map (or null/undefined: treated as empty when !required).
  // Records errors for keys not in `allowed`.
  bool ExpectMap(const YAML::Node& node, std::string_view field,
                 std::initializer_list<std::string_view> allowed, bool required = true);

  std::optional<std::string> String(const YAML::Node& map, std::string_view key,
                                    std::string_view path, bool required = false);
  std::optional<int64_t> Int(const YAML::Node& map, std::string_view key, std::string_view path,
                             int64_t min, int64_t max, bool required = false);
  std::optional<bool> Bool(const YAML::Node& map, std::string_view key, std::string_view path,
                           bool required = false);
  // Duration like "30s", "5m", "2h", "500ms" or a bare number of seconds.
  std::optional<int64_t> DurationMs(const YAML::Node& map, std::string_view key,
                                    std::string_view path, bool required = false);
  // A scalar or a sequence of scalars.
  std::optional<std::vector<std::string>> StringList(const YAML::Node& map, std::string_view key,
                                                     std::string_view path, bool required = false);

  // "path.key" or "key" when path is empty.
  static std::string Join(std::string_view path, std::string_view key);

  bool ok() const { return errors_.empty(); }
  const std::vector<ValidationError>& errors() const { return errors_; }
  const std::string& source() const { return source_; }
  // All errors, one per line, as an InvalidArgument Error.
  Error ToError() const;

 private:
  YAML::Node Child(const YAML::Node& map, std::string_view key, std::string_view path,
                   bool required);

  std::string source_;
  std::vector<ValidationError> errors_;
};

// Parses "30s", "5m", "2h", "500ms", "1d" or a bare integer (seconds).
std::optional<int64_t> ParseDurationMs(std::string_view text);

}  // namespace mamori
