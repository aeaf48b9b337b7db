// The Win32 implementation of common/base/file_io.h: wide-character paths, so a
// Japanese folder name works, and FlushFileBuffers + MoveFileExW
// (MOVEFILE_WRITE_THROUGH) for the atomic write.
// clang-format off
#include <windows.h>
// clang-format on

#include <algorithm>
#include <memory>
#include <string>
#include <system_error>

#include "common/base/file_io.h"

namespace mamori {
namespace {

std::wstring Wide(const std::string& utf8) {
  if (utf8.empty()) return {};
  const int n =
      ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

Error IoError(const std::string& path, std::string_view what, DWORD err) {
  return MakeError(ErrorCode::kIo, path + ": " + std::string(what) + ": " +
                                       std::system_category().message(static_cast<int>(err)) +
                                       " (" + std::to_string(err) + ")");
}

struct HandleCloser {
  void operator()(HANDLE h) const {
    if (h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
  }
};
using FileHandle = std::unique_ptr<void, HandleCloser>;

FileHandle Open(const std::string& path, DWORD access, DWORD disposition) {
  return FileHandle(::CreateFileW(Wide(path).c_str(), access, FILE_SHARE_READ, nullptr, disposition,
                                  FILE_ATTRIBUTE_NORMAL, nullptr));
}

}  // namespace

Result<std::string> ReadFileToString(const std::string& path) {
  FileHandle f = Open(path, GENERIC_READ, OPEN_EXISTING);
  if (f.get() == INVALID_HANDLE_VALUE) return IoError(path, "cannot open", ::GetLastError());
  std::string out;
  char buf[16384];
  for (;;) {
    DWORD n = 0;
    if (!::ReadFile(f.get(), buf, sizeof(buf), &n, nullptr)) {
      return IoError(path, "cannot read", ::GetLastError());
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned /*mode*/) {
  const std::string tmp = path + ".tmp";
  FileHandle f = Open(tmp, GENERIC_WRITE, CREATE_ALWAYS);
  if (f.get() == INVALID_HANDLE_VALUE) {
    return IoError(path, "cannot create temporary file " + tmp, ::GetLastError());
  }
  auto fail = [&](std::string_view what, DWORD err) -> Status {
    f.reset();
    ::DeleteFileW(Wide(tmp).c_str());
    return IoError(path, what, err);
  };
  std::size_t written = 0;
  while (written < data.size()) {
    DWORD n = 0;
    const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(data.size() - written, 1 << 20));
    if (!::WriteFile(f.get(), data.data() + written, chunk, &n, nullptr)) {
      return fail("cannot write", ::GetLastError());
    }
    written += n;
  }
  if (!::FlushFileBuffers(f.get())) return fail("cannot flush", ::GetLastError());
  f.reset();
  if (!::MoveFileExW(Wide(tmp).c_str(), Wide(path).c_str(),
                     MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    const DWORD err = ::GetLastError();
    ::DeleteFileW(Wide(tmp).c_str());
    return IoError(path, "cannot rename temporary file into place", err);
  }
  return Status::Ok();
}

}  // namespace mamori
