#include "common/base/config_file.h"

#include <filesystem>

namespace mamori {

std::string ResolveConfigPath(std::string_view base_dir, const std::string& path) {
  if (path.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_absolute() || base_dir.empty()) return p.lexically_normal().string();
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

void ReadLogSection(YamlReader& r, const YAML::Node& log, std::string_view base_dir,
                    LogConfig& out) {
  if (!r.ExpectMap(log, "log", {"level", "format", "file"}, false)) return;
  if (auto l = r.String(log, "level", "log")) {
    if (IsLogLevel(*l)) {
      out.level = *l;
    } else {
      r.Fail(log["level"], "log.level",
             "expected " + std::string(kLogLevels) + ", got '" + *l + "'");
    }
  }
  if (auto f = r.String(log, "format", "log")) {
    if (*f == "text" || *f == "json") {
      out.format = *f;
    } else {
      r.Fail(log["format"], "log.format", "expected text or json, got '" + *f + "'");
    }
  }
  out.file = ResolveConfigPath(base_dir, r.String(log, "file", "log").value_or(""));
}

}  // namespace mamori
