// The POSIX implementation of common/base/file_io.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/base/file_io.h"

namespace mamori {
namespace {

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now so the caller sees close() errors (NFS reports write errors there).
  int Close() {
    const int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

Error IoError(const std::string& path, std::string_view what, int err) {
  return MakeError(ErrorCode::kIo, path + ": " + std::string(what) + ": " + std::strerror(err));
}

std::string ParentDir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Result<std::string> ReadFileToString(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return IoError(path, "cannot open", errno);
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(path, "cannot read", errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
  const std::string dir = ParentDir(path);
  std::string tmp = path + ".tmp.XXXXXX";
  // mkstemp creates the file 0600, so a private key is never readable by
  // others, not even between creation and the fchmod below.
  ScopedFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return IoError(path, "cannot create temporary file in " + dir, errno);

  auto fail = [&](std::string_view what, int err) -> Status {
    fd.Close();
    ::unlink(tmp.c_str());
    return IoError(path, what, err);
  };

  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0)
    return fail("cannot set permissions", errno);
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write", errno);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("cannot sync", errno);
  if (fd.Close() != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError(path, "cannot write", err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError(path, "cannot rename temporary file into place", err);
  }
  // The rename is durable only once the directory entry is.
  ScopedFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return IoError(dir, "cannot open directory to sync", errno);
  if (::fsync(dir_fd.get()) != 0) return IoError(dir, "cannot sync directory", errno);
  return Status::Ok();
}

}  // namespace mamori
