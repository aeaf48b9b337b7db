#include "agent/platform/linux/sysfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "agent/platform/posix/unique_fd.h"

namespace mamori {
namespace {

Error FromErrno(int err, std::string_view what, const std::string& path) {
  return MakeError(SysfsErrorCode(err), std::string(what) + " " + path + ": " + std::strerror(err));
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

Result<std::string> CanonicalPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  if (!resolved) return FromErrno(errno, "realpath", path);
  return std::string(resolved.get());
}

}  // namespace

ErrorCode SysfsErrorCode(int err) {
  if (err == ENOENT || err == ENODEV) return ErrorCode::kNotFound;
  if (err == EACCES || err == EPERM) return ErrorCode::kPermissionDenied;
  return ErrorCode::kIo;
}

SysfsImpl::SysfsImpl(std::string root) : root_(std::move(root)) {}

std::string SysfsImpl::Full(std::string_view path) const {
  std::string out = root_;
  while (!out.empty() && out.back() == '/') out.pop_back();
  out += path;
  return out;
}

Result<std::string> SysfsImpl::Read(std::string_view path, std::size_t max_bytes) {
  const std::string full = Full(path);
  // O_NONBLOCK: a FIFO planted in a fixture or a misbehaving attribute
  // must not hang the agent.
  UniqueFd fd(::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return FromErrno(errno, "open", full);
  std::string data;
  char chunk[4096];
  while (data.size() < max_bytes) {
    const std::size_t want = std::min(sizeof chunk, max_bytes - data.size());
    const ssize_t n = ::read(fd.get(), chunk, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FromErrno(errno, "read", full);
    }
    if (n == 0) break;
    data.append(chunk, static_cast<std::size_t>(n));
  }
  return data;
}

Status SysfsImpl::Write(std::string_view path, std::string_view value) {
  const std::string full = Full(path);
  // O_TRUNC matters only for fixture trees (regular files); sysfs ignores it.
  UniqueFd fd(::open(full.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return FromErrno(errno, "open", full);
  for (;;) {
    const ssize_t n = ::write(fd.get(), value.data(), value.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FromErrno(errno, "write", full);
    }
    if (static_cast<std::size_t>(n) != value.size()) {
      return MakeError(ErrorCode::kIo, "write " + full + ": short write");
    }
    return Status::Ok();
  }
}

Result<std::vector<std::string>> SysfsImpl::List(std::string_view dir) {
  const std::string full = Full(dir);
  std::unique_ptr<DIR, DirCloser> d(::opendir(full.c_str()));
  if (!d) return FromErrno(errno, "opendir", full);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string_view name(e->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) return FromErrno(errno, "readdir", full);
  std::sort(names.begin(), names.end());
  return names;
}

bool SysfsImpl::Exists(std::string_view path) {
  struct stat st {};
  return ::stat(Full(path).c_str(), &st) == 0;
}

Result<std::string> SysfsImpl::RealPath(std::string_view path) {
  auto root = CanonicalPath(root_.empty() ? std::string("/") : root_);
  if (!root.ok()) return root.error();
  auto real = CanonicalPath(Full(path));
  if (!real.ok()) return real.error();
  std::string prefix = *root;
  if (prefix == "/") return *real;
  if (*real == prefix) return std::string("/");
  prefix += '/';
  if (!real->starts_with(prefix)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "sysfs path " + std::string(path) + " leads outside " + root_);
  }
  return real->substr(prefix.size() - 1);
}

std::string_view TrimNewline(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}

}  // namespace mamori
