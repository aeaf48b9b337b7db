#include "common/base/yaml_reader.h"

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace mamori {

std::string ValidationError::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

namespace {

// Records the root node of each document the parser walks through.
class DocumentRoots final : public YAML::EventHandler {
 public:
  struct Root {
    YAML::Mark mark;
    bool null = false;
  };

  const std::optional<Root>& root() const { return root_; }

  void OnDocumentStart(const YAML::Mark&) override { root_.reset(); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Saw(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Saw(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Saw(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Saw(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Saw(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void Saw(const YAML::Mark& mark, bool null) {
    if (!root_) root_ = Root{mark, null};
  }

  std::optional<Root> root_;
};

// More than this many documents (even empty ones) is not a config file.
constexpr int kMaxDocuments = 64;

// YAML::Load reads the first document and silently drops the rest, so a
// pasted-on second document, or stray text after a complete one, would be
// ignored without a word. YAML::LoadAll is no way out: on some malformed
// input (a lone ",") it never returns and eats all memory. So the documents
// are walked here, stopping when the parser stops making progress.
std::optional<ValidationError> ExtraDocumentError(std::string_view text,
                                                  const std::string& source) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentRoots roots;
  std::optional<int> last_pos;
  for (int doc = 1; parser.HandleNextDocument(roots); ++doc) {
    if (doc > kMaxDocuments) {
      return ValidationError{
          source, 0, 0, "",
          "only one YAML document is allowed; found more than " + std::to_string(kMaxDocuments)};
    }
    if (!roots.root()) continue;
    const YAML::Mark& at = roots.root()->mark;
    auto fail = [&](std::string message) {
      return ValidationError{source, at.line + 1, at.column + 1, "", std::move(message)};
    };
    if (last_pos == at.pos) {
      return fail("YAML syntax error: unexpected text that belongs to no document");
    }
    last_pos = at.pos;
    if (doc > 1 && !roots.root()->null) {
      return fail("only one YAML document is allowed; found another one (document " +
                  std::to_string(doc) + ")");
    }
  }
  return std::nullopt;
}

}  // namespace

YAML::Node YamlReader::Load(std::string_view text) {
  try {
    YAML::Node node = YAML::Load(std::string(text));
    if (auto extra = ExtraDocumentError(text, source_)) errors_.push_back(std::move(*extra));
    return node;
  } catch (const YAML::Exception& e) {
    errors_.push_back({source_, e.mark.is_null() ? 0 : e.mark.line + 1,
                       e.mark.is_null() ? 0 : e.mark.column + 1, "",
                       "YAML syntax error: " + e.msg});
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node YamlReader::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors_.push_back({source_, 0, 0, "", "cannot open file"});
    return YAML::Node(YAML::NodeType::Undefined);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return Load(ss.str());
}

void YamlReader::Fail(const YAML::Node& node, std::string_view field, std::string message) {
  int line = 0;
  int column = 0;
  if (node.IsDefined()) {
    const YAML::Mark m = node.Mark();
    if (!m.is_null()) {
      line = m.line + 1;
      column = m.column + 1;
    }
  }
  errors_.push_back({source_, line, column, std::string(field), std::move(message)});
}

bool YamlReader::ExpectMap(const YAML::Node& node, std::string_view field,
                           std::initializer_list<std::string_view> allowed, bool required) {
  if (!node.IsDefined() || node.IsNull()) {
    if (required) Fail(node, field, "required section is missing");
    return false;
  }
  if (!node.IsMap()) {
    Fail(node, field, "expected a mapping of key: value");
    return false;
  }
  // yaml-cpp keeps duplicate keys and lookups return only one of them, so
  // "action: allow" followed by "action: block" would hide a mistake.
  std::set<std::string, std::less<>> seen;
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
    if (kv.first.IsScalar() && !seen.insert(key).second) {
      Fail(kv.first, Join(field, key), "duplicate key; each key may appear only once");
      continue;
    }
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) {
        if (!list.empty()) list += ", ";
        list += a;
      }
      Fail(kv.first, Join(field, key), "unknown key (expected one of: " + list + ")");
    }
  }
  return true;
}

std::string YamlReader::Join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

YAML::Node YamlReader::Child(const YAML::Node& map, std::string_view key, std::string_view path,
                             bool required) {
  if (!map.IsDefined() || !map.IsMap()) {
    if (required) Fail(map, Join(path, key), "required field is missing");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  YAML::Node child = map[std::string(key)];
  if ((!child.IsDefined() || child.IsNull()) && required) {
    Fail(child.IsDefined() ? child : map, Join(path, key), "required field is missing");
  }
  return child;
}

std::optional<std::string> YamlReader::String(const YAML::Node& map, std::string_view key,
                                              std::string_view path, bool required) {
  YAML::Node n = Child(map, key, path, required);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsScalar()) {
    Fail(n, Join(path, key), "expected a string");
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<int64_t> YamlReader::Int(const YAML::Node& map, std::string_view key,
                                       std::string_view path, int64_t min, int64_t max,
                                       bool required) {
  YAML::Node n = Child(map, key, path, required);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  const std::string field = Join(path, key);
  if (!n.IsScalar()) {
    Fail(n, field, "expected an integer");
    return std::nullopt;
  }
  const std::string& s = n.Scalar();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    Fail(n, field, "expected an integer, got '" + s + "'");
    return std::nullopt;
  }
  if (v < min || v > max) {
    Fail(n, field,
         "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + s);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> YamlReader::Bool(const YAML::Node& map, std::string_view key,
                                     std::string_view path, bool required) {
  YAML::Node n = Child(map, key, path, required);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  Fail(n, Join(path, key), "expected true or false");
  return std::nullopt;
}

std::optional<int64_t> YamlReader::DurationMs(const YAML::Node& map, std::string_view key,
                                              std::string_view path, bool required) {
  YAML::Node n = Child(map, key, path, required);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  std::optional<int64_t> ms;
  if (n.IsScalar()) ms = ParseDurationMs(n.Scalar());
  if (!ms) {
    Fail(n, Join(path, key),
         "expected a duration such as 30s, 5m, 2h or 500ms, got '" +
             (n.IsScalar() ? n.Scalar() : std::string("?")) + "'");
  }
  return ms;
}

std::optional<std::vector<std::string>> YamlReader::StringList(const YAML::Node& map,
                                                               std::string_view key,
                                                               std::string_view path,
                                                               bool required) {
  YAML::Node n = Child(map, key, path, required);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence()) {
    Fail(n, Join(path, key), "expected a string or a list of strings");
    return std::nullopt;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      Fail(n[i], Join(path, key) + "[" + std::to_string(i) + "]", "expected a string");
      return std::nullopt;
    }
    out.push_back(n[i].Scalar());
  }
  return out;
}

Error YamlReader::ToError() const {
  std::string msg;
  for (const auto& e : errors_) {
    if (!msg.empty()) msg += '\n';
    msg += e.ToString();
  }
  return MakeError(ErrorCode::kInvalidArgument, msg);
}

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  const std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  int64_t mult = 0;
  if (unit.empty() || unit == "s") {
    mult = 1000;
  } else if (unit == "ms") {
    mult = 1;
  } else if (unit == "m") {
    mult = 60'000;
  } else if (unit == "h") {
    mult = 3'600'000;
  } else if (unit == "d") {
    mult = 86'400'000;
  } else {
    return std::nullopt;
  }
  if (v > INT64_MAX / mult) return std::nullopt;
  return v * mult;
}

}  // namespace mamori
