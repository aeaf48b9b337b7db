#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mamori::web {

// A file of server/web/static, compiled into the binary.
struct EmbeddedAsset {
  std::string_view path;  // "/index.html", "/i18n/ja.json", ...
  std::string_view data;
};

// Generated at build time (embed_assets.cmake).
std::span<const EmbeddedAsset> EmbeddedAssets();

// The asset path a request target names, or nullopt when the target is not
// a plain path: "..", ".", empty segments, backslashes, percent-encoding,
// NUL and anything outside [A-Za-z0-9._/-] are refused rather than decoded,
// so no spelling of a path can step outside the asset table. The query
// string is ignored; "/" means "/index.html".
std::optional<std::string> NormalizeStaticPath(std::string_view target);
const EmbeddedAsset* FindAsset(std::string_view normalized_path);
// By extension; application/octet-stream for anything unknown.
std::string_view ContentTypeFor(std::string_view path);

}  // namespace mamori::web
