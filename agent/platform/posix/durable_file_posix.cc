// The POSIX implementation of durable_file.h.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "agent/storage/durable_file.h"

namespace mamori {
namespace {

Error OsError(const std::filesystem::path& path, std::string_view what, int err) {
  return MakeError(ErrorCode::kIo,
                   PathToUtf8(path) + ": " + std::string(what) + ": " + std::strerror(err));
}

int Fd(std::intptr_t handle) { return static_cast<int>(handle); }

}  // namespace

Result<DurableFile> DurableFile::Open(const std::filesystem::path& path, Disposition disposition) {
  int flags = O_CLOEXEC;
  switch (disposition) {
    case Disposition::kOpenExisting:
      flags |= O_RDWR;
      break;
    case Disposition::kOpenOrCreate:
      flags |= O_RDWR | O_CREAT;
      break;
    case Disposition::kOpenExistingReadOnly:
      flags |= O_RDONLY;
      break;
  }
  int fd = -1;
  do {
    fd = ::open(path.c_str(), flags, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return OsError(path, "cannot open", errno);
  return DurableFile(fd, path);
}

Result<DurableFile> DurableFile::CreateUnique(const std::filesystem::path& prefix) {
  std::string name = prefix.native() + "XXXXXX";
  // mkostemp creates the file 0600.
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    std::filesystem::path dir = prefix.parent_path();
    if (dir.empty()) dir = ".";
    return OsError(prefix, "cannot create a temporary file in " + PathToUtf8(dir), errno);
  }
  return DurableFile(fd, std::filesystem::path(name));
}

Result<uint64_t> DurableFile::Size() const {
  struct stat st {};
  if (::fstat(Fd(handle_), &st) != 0) return OsError(path_, "cannot stat", errno);
  return static_cast<uint64_t>(st.st_size);
}

Result<std::string> DurableFile::ReadAll() const {
  Result<uint64_t> size = Size();
  if (!size.ok()) return size.error();
  std::string out(static_cast<std::size_t>(*size), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(Fd(handle_), out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return OsError(path_, "cannot read", errno);
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

Status DurableFile::WriteAt(uint64_t offset, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(Fd(handle_), data.data() + done, data.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return OsError(path_, "cannot write", errno);
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status DurableFile::Truncate(uint64_t size) {
  if (::ftruncate(Fd(handle_), static_cast<off_t>(size)) != 0) {
    return OsError(path_, "cannot truncate", errno);
  }
  return Status::Ok();
}

Status DurableFile::SyncData() {
  if (::fdatasync(Fd(handle_)) != 0) return OsError(path_, "cannot sync", errno);
  return Status::Ok();
}

Status DurableFile::Sync() {
  if (::fsync(Fd(handle_)) != 0) return OsError(path_, "cannot sync", errno);
  return Status::Ok();
}

Status DurableFile::Close() {
  if (handle_ == -1) return Status::Ok();
  // No retry on EINTR: the descriptor is released either way on Linux.
  const int rc = ::close(Fd(std::exchange(handle_, -1)));
  if (rc != 0) return OsError(path_, "cannot close", errno);
  return Status::Ok();
}

Status AtomicReplace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return OsError(to, "cannot replace with " + PathToUtf8(from), errno);
  }
  return Status::Ok();
}

Status SyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return OsError(dir, "cannot open directory to sync", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return OsError(dir, "cannot sync directory", err);
  return Status::Ok();
}

Status RemoveFile(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return OsError(path, "cannot remove", errno);
  }
  return Status::Ok();
}

}  // namespace mamori
