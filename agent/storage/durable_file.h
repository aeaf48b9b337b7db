#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/base/result.h"

namespace mamori {

// The file operations the agent's durable state (event journal, seq files,
// policy cache) is built on, with one implementation per OS:
// durable_file_posix.cc (open/pwrite/fdatasync/rename + directory fsync) and
// durable_file_win32.cc (CreateFileW/WriteFile/FlushFileBuffers/rename with
// replace). Paths are std::filesystem::path, so a path on Windows stays
// UTF-16 from end to end and is never narrowed through the ANSI code page.
//
// Errors are kIo and read "<path>: <what failed>: <the OS's reason>", the
// path in UTF-8.

// The agent keeps its paths as UTF-8 text (configuration, messages); these
// convert without going through the process's locale or code page.
std::filesystem::path PathFromUtf8(std::string_view utf8);
std::string PathToUtf8(const std::filesystem::path& path);

// An open file, read-write unless opened kOpenExistingReadOnly. On Windows it is opened with
// FILE_SHARE_READ, FILE_SHARE_WRITE and FILE_SHARE_DELETE, so that, as on POSIX, the file can be
// renamed, replaced or deleted while it is open.
class DurableFile {
 public:
  enum class Disposition {
    kOpenExisting,          // fails when the file does not exist
    kOpenOrCreate,          // creates it empty when absent
    kOpenExistingReadOnly,  // for reading only: writes fail
  };

  static Result<DurableFile> Open(const std::filesystem::path& path, Disposition disposition);
  // Creates a new file named `prefix` followed by a unique suffix (never an
  // existing file), readable and writable only by the owner on POSIX; on
  // Windows it inherits the ACL of its directory.
  static Result<DurableFile> CreateUnique(const std::filesystem::path& prefix);

  DurableFile() = default;
  DurableFile(DurableFile&& other) noexcept;
  DurableFile& operator=(DurableFile&& other) noexcept;
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;
  ~DurableFile();

  bool is_open() const;
  // The path it was opened under (not updated by AtomicReplace).
  const std::filesystem::path& path() const { return path_; }

  Result<uint64_t> Size() const;
  // The whole file, from offset 0.
  Result<std::string> ReadAll() const;
  Status WriteAt(uint64_t offset, std::string_view data);
  // Writes at the current end of the file.
  Status Append(std::string_view data);
  // Sets the size; the file position is not involved.
  Status Truncate(uint64_t size);
  // Data and the metadata needed to read it back (fdatasync; on Windows
  // FlushFileBuffers).
  Status SyncData();
  // Data and all metadata (fsync; on Windows FlushFileBuffers).
  Status Sync();
  // Closes now, reporting a failure (Windows and NFS may report a write
  // error only here). The destructor closes silently.
  Status Close();

 private:
  DurableFile(std::intptr_t handle, std::filesystem::path path)
      : handle_(handle), path_(std::move(path)) {}

  // A file descriptor, or a HANDLE; -1 (INVALID_HANDLE_VALUE) when closed.
  std::intptr_t handle_ = -1;
  std::filesystem::path path_;
};

// The whole file; an error when it cannot be opened or read.
Result<std::string> ReadFileBytes(const std::filesystem::path& path);
// As ReadFileBytes, but nullopt when the file does not exist.
Result<std::optional<std::string>> ReadFileIfExists(const std::filesystem::path& path);

// Gives `to` the file at `from`, atomically: `to` names either its old or
// its new file, never nothing, even across a crash. An open `to` may be
// replaced (its open handles keep reading the old file). On POSIX rename();
// on Windows a POSIX-semantics rename by handle (Windows 10 1709+, NTFS),
// falling back to MoveFileExW(MOVEFILE_REPLACE_EXISTING |
// MOVEFILE_WRITE_THROUGH), which cannot replace a file that is open.
// Durable only once the directory is synced (SyncDirectory).
Status AtomicReplace(const std::filesystem::path& from, const std::filesystem::path& to);

// Makes renames and creations in `dir` durable: fsync of the directory on
// POSIX, FlushFileBuffers of the directory on Windows.
Status SyncDirectory(const std::filesystem::path& dir);

// Removes a file; an absent file is not an error.
Status RemoveFile(const std::filesystem::path& path);

// Replaces the contents of `path` atomically: a temp file next to it
// (`path`.tmp.XXXXXX) is written, synced, renamed over `path`, and the
// directory is synced. The temp file is removed when any step fails.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view data);

}  // namespace mamori
