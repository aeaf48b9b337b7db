#include "agent/platform/windows/service/config_import.h"

#include <system_error>

#include "agent/platform/windows/win32/wide_string.h"

namespace mamori {
namespace {

std::string Show(const std::filesystem::path& p) { return Utf16ToUtf8(p.wstring()); }

}  // namespace

Result<std::vector<std::string>> ImportConfig(const std::filesystem::path& source,
                                              const std::filesystem::path& config_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(source, ec)) {
    return MakeError(ErrorCode::kNotFound,
                     "configuration source " + Show(source) + " is not a directory");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(source, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    if (files.size() == kMaxImportedFiles) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "configuration source " + Show(source) + " holds more than " +
                           std::to_string(kMaxImportedFiles) + " files");
    }
    const std::uintmax_t size = entry.file_size(ec);
    if (ec || size > kMaxImportedFileBytes) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          Show(entry.path()) + ": " +
              (ec ? ec.message()
                  : "larger than " + std::to_string(kMaxImportedFileBytes) + " bytes"));
    }
    files.push_back(entry.path());
  }
  if (ec) return MakeError(ErrorCode::kIo, "reading " + Show(source) + ": " + ec.message());
  if (!std::filesystem::is_regular_file(source / "agent.yaml", ec)) {
    return MakeError(ErrorCode::kNotFound,
                     "configuration source " + Show(source) + " has no agent.yaml");
  }
  std::filesystem::create_directories(config_dir, ec);
  if (ec) return MakeError(ErrorCode::kIo, "creating " + Show(config_dir) + ": " + ec.message());
  std::vector<std::string> copied;
  for (const std::filesystem::path& f : files) {
    const std::filesystem::path to = config_dir / f.filename();
    std::filesystem::copy_file(f, to, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      return MakeError(ErrorCode::kIo,
                       "copying " + Show(f) + " to " + Show(to) + ": " + ec.message());
    }
    copied.push_back(Show(f.filename()));
  }
  return copied;
}

}  // namespace mamori
