// The Win32 implementation of durable_file.h.

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

#include "agent/storage/durable_file.h"

namespace mamori {
namespace {

// "Access is denied. (Win32 error 5)": the system's text in UTF-8.
std::string DescribeWin32Error(DWORD err) {
  wchar_t* text = nullptr;
  const DWORD n = ::FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, err, 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
  std::string out;
  if (n > 0 && text != nullptr) {
    std::wstring_view w(text, n);
    while (!w.empty() && (w.back() == L'\r' || w.back() == L'\n' || w.back() == L' ')) {
      w.remove_suffix(1);
    }
    const int len = ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr,
                                          0, nullptr, nullptr);
    if (len > 0) {
      out.resize(static_cast<std::size_t>(len));
      ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), out.data(), len,
                            nullptr, nullptr);
    }
  }
  if (text != nullptr) ::LocalFree(text);
  if (out.empty()) out = "unknown error";
  return out + " (Win32 error " + std::to_string(err) + ")";
}

Error OsError(const std::filesystem::path& path, std::string_view what, DWORD err) {
  return MakeError(ErrorCode::kIo,
                   PathToUtf8(path) + ": " + std::string(what) + ": " + DescribeWin32Error(err));
}

HANDLE H(std::intptr_t handle) { return reinterpret_cast<HANDLE>(handle); }

constexpr DWORD kShareAll = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

// ReadFile/WriteFile take at most a DWORD at a time.
constexpr std::size_t kMaxChunk = 1u << 30;

OVERLAPPED At(uint64_t offset) {
  OVERLAPPED ov{};
  ov.Offset = static_cast<DWORD>(offset & 0xffffffffu);
  ov.OffsetHigh = static_cast<DWORD>(offset >> 32);
  return ov;
}

// Windows 10 1709 values, which SDK headers declare only for some target
// versions (winbase.h, minwinbase.h).
constexpr auto kFileRenameInfoEx = static_cast<FILE_INFO_BY_HANDLE_CLASS>(22);
constexpr DWORD kRenameReplaceIfExists = 0x1;
constexpr DWORD kRenamePosixSemantics = 0x2;

std::wstring UniqueSuffix() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t seed = std::random_device{}();
  uint64_t v = seed ^ (static_cast<uint64_t>(::GetCurrentProcessId()) << 32) ^
               (counter.fetch_add(1) * 0x9e3779b97f4a7c15ull) ^ ::GetTickCount64();
  static constexpr wchar_t kChars[] =
      L"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::wstring out;
  for (int i = 0; i < 6; ++i) {
    out.push_back(kChars[v % 62]);
    v /= 62;
  }
  return out;
}

}  // namespace

Result<DurableFile> DurableFile::Open(const std::filesystem::path& path, Disposition disposition) {
  DWORD access = GENERIC_READ | GENERIC_WRITE;
  DWORD creation = OPEN_EXISTING;
  switch (disposition) {
    case Disposition::kOpenExisting:
      break;
    case Disposition::kOpenOrCreate:
      creation = OPEN_ALWAYS;
      break;
    case Disposition::kOpenExistingReadOnly:
      access = GENERIC_READ;
      break;
  }
  HANDLE h = ::CreateFileW(path.c_str(), access, kShareAll, nullptr, creation,
                           FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return OsError(path, "cannot open", ::GetLastError());
  return DurableFile(reinterpret_cast<std::intptr_t>(h), path);
}

Result<DurableFile> DurableFile::CreateUnique(const std::filesystem::path& prefix) {
  DWORD err = ERROR_FILE_EXISTS;
  for (int attempt = 0; attempt < 100 && err == ERROR_FILE_EXISTS; ++attempt) {
    std::filesystem::path name = prefix;
    name += UniqueSuffix();
    HANDLE h = ::CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, kShareAll, nullptr,
                             CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h != INVALID_HANDLE_VALUE) return DurableFile(reinterpret_cast<std::intptr_t>(h), name);
    err = ::GetLastError();
  }
  std::filesystem::path dir = prefix.parent_path();
  if (dir.empty()) dir = ".";
  return OsError(prefix, "cannot create a temporary file in " + PathToUtf8(dir), err);
}

Result<uint64_t> DurableFile::Size() const {
  LARGE_INTEGER size{};
  if (!::GetFileSizeEx(H(handle_), &size)) return OsError(path_, "cannot stat", ::GetLastError());
  return static_cast<uint64_t>(size.QuadPart);
}

Result<std::string> DurableFile::ReadAll() const {
  Result<uint64_t> size = Size();
  if (!size.ok()) return size.error();
  std::string out(static_cast<std::size_t>(*size), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    OVERLAPPED ov = At(done);
    DWORD n = 0;
    const DWORD want = static_cast<DWORD>(std::min(out.size() - done, kMaxChunk));
    if (!::ReadFile(H(handle_), out.data() + done, want, &n, &ov)) {
      const DWORD err = ::GetLastError();
      if (err == ERROR_HANDLE_EOF) break;
      return OsError(path_, "cannot read", err);
    }
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

Status DurableFile::WriteAt(uint64_t offset, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    OVERLAPPED ov = At(offset + done);
    DWORD n = 0;
    const DWORD want = static_cast<DWORD>(std::min(data.size() - done, kMaxChunk));
    if (!::WriteFile(H(handle_), data.data() + done, want, &n, &ov)) {
      return OsError(path_, "cannot write", ::GetLastError());
    }
    done += n;
  }
  return Status::Ok();
}

Status DurableFile::Truncate(uint64_t size) {
  FILE_END_OF_FILE_INFO info{};
  info.EndOfFile.QuadPart = static_cast<LONGLONG>(size);
  if (!::SetFileInformationByHandle(H(handle_), FileEndOfFileInfo, &info, sizeof(info))) {
    return OsError(path_, "cannot truncate", ::GetLastError());
  }
  return Status::Ok();
}

Status DurableFile::SyncData() { return Sync(); }

Status DurableFile::Sync() {
  if (!::FlushFileBuffers(H(handle_))) return OsError(path_, "cannot sync", ::GetLastError());
  return Status::Ok();
}

Status DurableFile::Close() {
  if (handle_ == -1) return Status::Ok();
  if (!::CloseHandle(H(std::exchange(handle_, -1)))) {
    return OsError(path_, "cannot close", ::GetLastError());
  }
  return Status::Ok();
}

Status AtomicReplace(const std::filesystem::path& from, const std::filesystem::path& to) {
  // A rename by handle with POSIX semantics replaces `to` even while it is
  // open (the reader keeps the old file), as rename() does on POSIX.
  HANDLE h = ::CreateFileW(from.c_str(), DELETE | SYNCHRONIZE, kShareAll, nullptr, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    return OsError(to, "cannot replace with " + PathToUtf8(from), ::GetLastError());
  }
  std::error_code ec;
  const std::wstring target = std::filesystem::absolute(to, ec).native();
  if (ec) {
    ::CloseHandle(h);
    return MakeError(ErrorCode::kIo, PathToUtf8(to) + ": cannot replace with " + PathToUtf8(from) +
                                         ": " + ec.message());
  }
  std::vector<std::byte> buf(sizeof(FILE_RENAME_INFO) + target.size() * sizeof(wchar_t));
  auto* info = reinterpret_cast<FILE_RENAME_INFO*>(buf.data());
  // Flags shares offset 0 with ReplaceIfExists; SDKs declare it only for
  // some target versions.
  const DWORD flags = kRenameReplaceIfExists | kRenamePosixSemantics;
  std::memcpy(buf.data(), &flags, sizeof(flags));
  info->RootDirectory = nullptr;
  info->FileNameLength = static_cast<DWORD>(target.size() * sizeof(wchar_t));
  std::memcpy(info->FileName, target.data(), target.size() * sizeof(wchar_t));
  const BOOL renamed =
      ::SetFileInformationByHandle(h, kFileRenameInfoEx, info, static_cast<DWORD>(buf.size()));
  DWORD err = renamed ? ERROR_SUCCESS : ::GetLastError();
  ::CloseHandle(h);
  if (renamed) return Status::Ok();
  if (err == ERROR_INVALID_PARAMETER || err == ERROR_NOT_SUPPORTED ||
      err == ERROR_INVALID_FUNCTION) {
    // Before Windows 10 1709, or not NTFS: replaces only a file nobody has open.
    if (::MoveFileExW(from.c_str(), to.c_str(),
                      MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
      return Status::Ok();
    }
    err = ::GetLastError();
  }
  return OsError(to, "cannot replace with " + PathToUtf8(from), err);
}

Status SyncDirectory(const std::filesystem::path& dir) {
  // NTFS flushes a directory's entries through a handle to the directory,
  // which needs write access and FILE_FLAG_BACKUP_SEMANTICS.
  HANDLE h = ::CreateFileW(dir.c_str(), GENERIC_READ | GENERIC_WRITE, kShareAll, nullptr,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    return OsError(dir, "cannot open directory to sync", ::GetLastError());
  }
  const BOOL flushed = ::FlushFileBuffers(h);
  const DWORD err = flushed ? ERROR_SUCCESS : ::GetLastError();
  ::CloseHandle(h);
  // File systems that cannot flush a directory (FAT, network shares) say
  // so; there is nothing more to do there.
  if (!flushed && err != ERROR_INVALID_FUNCTION && err != ERROR_NOT_SUPPORTED) {
    return OsError(dir, "cannot sync directory", err);
  }
  return Status::Ok();
}

Status RemoveFile(const std::filesystem::path& path) {
  if (!::DeleteFileW(path.c_str())) {
    const DWORD err = ::GetLastError();
    if (err != ERROR_FILE_NOT_FOUND && err != ERROR_PATH_NOT_FOUND) {
      return OsError(path, "cannot remove", err);
    }
  }
  return Status::Ok();
}

}  // namespace mamori
