#include "agent/platform/linux/unlock_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include "common/base/sanitize.h"

namespace mamori {
namespace {

constexpr int kIoTimeoutS = 5;

Error SysError(std::string what) {
  return MakeError(ErrorCode::kIo, std::move(what) + ": " + std::strerror(errno));
}

void SetTimeouts(int fd) {
  timeval tv{};
  tv.tv_sec = kIoTimeoutS;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Reads up to a newline, at most `max` bytes; nullopt on timeout, error or
// an over-long line.
std::optional<std::string> ReadLine(int fd, std::size_t max) {
  std::string line;
  char buf[512];
  while (line.size() <= max) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
    if (const auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      return line;
    }
  }
  if (line.size() > max || line.empty()) return std::nullopt;
  return line;  // peer closed without a newline
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

Result<UniqueFd> Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return MakeError(ErrorCode::kInvalidArgument, "socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return SysError("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot reach the mamori-agent service at " + path +
                                                  " (" + std::strerror(errno) +
                                                  "): is the service running?");
  }
  SetTimeouts(fd.get());
  return fd;
}

}  // namespace

std::string DescribeLocalUser(unsigned uid) {
  std::string out = "uid " + std::to_string(uid);
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    out += " (" + SanitizeDeviceString(found->pw_name, 64) + ")";
  }
  return out;
}

Result<std::unique_ptr<UnlockSocketServer>> UnlockSocketServer::Listen(const std::string& path,
                                                                       UnlockHandler handler) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return MakeError(ErrorCode::kInvalidArgument, "unlock.socket: bad path '" + path + "'");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return MakeError(ErrorCode::kIo,
                       "unlock.socket: cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0755);
  }
  // A socket left by a previous run; never anything else.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "unlock.socket: " + path + " exists and is not a socket");
    }
    ::unlink(path.c_str());
  }
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return SysError("unlock.socket: socket");
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return SysError("unlock.socket: bind " + path);
  }
  // Everyone may connect: the code is the credential (see the header).
  if (::chmod(path.c_str(), 0666) != 0) return SysError("unlock.socket: chmod " + path);
  if (::listen(listener.get(), 8) != 0) return SysError("unlock.socket: listen " + path);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return SysError("unlock.socket: pipe");
  return std::unique_ptr<UnlockSocketServer>(new UnlockSocketServer(
      path, std::move(listener), UniqueFd(pipe_fds[0]), UniqueFd(pipe_fds[1]), std::move(handler)));
}

UnlockSocketServer::UnlockSocketServer(std::string path, UniqueFd listener, UniqueFd wake_read,
                                       UniqueFd wake_write, UnlockHandler handler)
    : path_(std::move(path)),
      listener_(std::move(listener)),
      wake_read_(std::move(wake_read)),
      wake_write_(std::move(wake_write)),
      handler_(std::move(handler)) {
  thread_ = std::thread([this] { Serve(); });
}

UnlockSocketServer::~UnlockSocketServer() {
  const char c = 'x';
  while (::write(wake_write_.get(), &c, 1) < 0 && errno == EINTR) {
  }
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

void UnlockSocketServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) continue;
    SetTimeouts(conn.get());
    ServeOne(conn.get());
  }
}

void UnlockSocketServer::ServeOne(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return;
  const std::string requester = DescribeLocalUser(cred.uid);
  const std::optional<std::string> line = ReadLine(fd, kMaxUnlockRequestBytes);
  const std::optional<std::string_view> code = line ? ParseUnlockRequest(*line) : std::nullopt;
  if (!code) {
    (void)WriteAll(fd, kBadUnlockRequestReply);
    return;
  }
  (void)WriteAll(fd, FormatUnlockReply(handler_(*code, requester)));
}

Result<UnlockReply> SendUnlockCode(const std::string& path, std::string_view code) {
  Result<std::string> request = FormatUnlockRequest(code);
  if (!request.ok()) return request.error();
  Result<UniqueFd> fd = Connect(path);
  if (!fd.ok()) return fd.error();
  if (!WriteAll(fd->get(), *request)) return SysError("sending to " + path);
  const std::optional<std::string> line = ReadLine(fd->get(), kMaxUnlockReplyBytes);
  if (!line)
    return MakeError(ErrorCode::kUnavailable, "no answer from the mamori-agent service at " + path);
  return ParseUnlockReply(*line);
}

}  // namespace mamori
