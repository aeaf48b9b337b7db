#include "server/policy/policy_sections.h"

#include <algorithm>
#include <vector>

namespace mamori {
namespace {

// Lines of `text`, each with its line break.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::size_t len = nl == std::string_view::npos ? text.size() : nl + 1;
    out.push_back(text.substr(0, len));
    text.remove_prefix(len);
  }
  return out;
}

bool IsBlankOrComment(std::string_view line) {
  const auto first = line.find_first_not_of(" \t\r\n");
  return first == std::string_view::npos || line[first] == '#';
}

}  // namespace

std::optional<std::string> SpliceTopLevelSection(std::string_view yaml, const YAML::Node& root,
                                                 std::string_view key, const std::string& block) {
  if (!root.IsMap() || root.Style() != YAML::EmitterStyle::Block) return std::nullopt;
  std::vector<int> key_lines;
  int section_index = -1;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Mark mark = it->first.Mark();
    if (mark.is_null() || mark.column != 0) return std::nullopt;
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      section_index = static_cast<int>(key_lines.size());
    }
    key_lines.push_back(mark.line);
  }
  if (!std::is_sorted(key_lines.begin(), key_lines.end())) return std::nullopt;
  const std::vector<std::string_view> lines = Lines(yaml);
  std::string out;
  if (section_index < 0) {
    out.assign(yaml);
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
    return out + block;
  }
  const std::size_t start = static_cast<std::size_t>(key_lines[section_index]);
  std::size_t end = section_index + 1 < static_cast<int>(key_lines.size())
                        ? static_cast<std::size_t>(key_lines[section_index + 1])
                        : lines.size();
  if (start >= lines.size() || end > lines.size() || end <= start) return std::nullopt;
  // Comments just above the next key belong to it.
  while (end > start + 1 && IsBlankOrComment(lines[end - 1])) --end;
  for (std::size_t i = 0; i < start; ++i) out.append(lines[i]);
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  out.append(block);
  for (std::size_t i = end; i < lines.size(); ++i) out.append(lines[i]);
  return out;
}

}  // namespace mamori
