#include "agent/storage/durable_file.h"

#include <system_error>
#include <utility>

namespace mamori {

std::filesystem::path PathFromUtf8(std::string_view utf8) {
  return std::filesystem::path(std::u8string(utf8.begin(), utf8.end()));
}

std::string PathToUtf8(const std::filesystem::path& path) {
  const std::u8string s = path.u8string();
  return std::string(s.begin(), s.end());
}

DurableFile::DurableFile(DurableFile&& other) noexcept
    : handle_(std::exchange(other.handle_, -1)), path_(std::move(other.path_)) {}

DurableFile& DurableFile::operator=(DurableFile&& other) noexcept {
  if (this != &other) {
    (void)Close();
    handle_ = std::exchange(other.handle_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

DurableFile::~DurableFile() { (void)Close(); }

bool DurableFile::is_open() const { return handle_ != -1; }

Status DurableFile::Append(std::string_view data) {
  Result<uint64_t> size = Size();
  if (!size.ok()) return size.error();
  return WriteAt(*size, data);
}

Result<std::string> ReadFileBytes(const std::filesystem::path& path) {
  Result<DurableFile> file =
      DurableFile::Open(path, DurableFile::Disposition::kOpenExistingReadOnly);
  if (!file.ok()) return file.error();
  return file->ReadAll();
}

Result<std::optional<std::string>> ReadFileIfExists(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec) return MakeError(ErrorCode::kIo, PathToUtf8(path) + ": " + ec.message());
    return std::optional<std::string>();
  }
  Result<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.error();
  return std::optional<std::string>(std::move(*bytes));
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view data) {
  std::filesystem::path prefix = path;
  prefix += ".tmp.";
  Result<DurableFile> tmp = DurableFile::CreateUnique(prefix);
  if (!tmp.ok()) return tmp.error();
  const std::filesystem::path tmp_path = tmp->path();
  Status s = tmp->WriteAt(0, data);
  if (s.ok()) s = tmp->Sync();
  if (Status c = tmp->Close(); s.ok() && !c.ok()) s = c;
  if (s.ok()) s = AtomicReplace(tmp_path, path);
  if (!s.ok()) {
    (void)RemoveFile(tmp_path);
    return s;
  }
  // The rename is durable only once the directory entry is.
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  return SyncDirectory(dir);
}

}  // namespace mamori
