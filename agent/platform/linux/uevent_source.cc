#include "agent/platform/linux/uevent_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/platform/linux/uevent_parser.h"
#include "common/base/logging.h"

namespace mamori {
namespace {

constexpr unsigned kKernelUeventGroup = 1;

Error Errno(std::string_view what) {
  return MakeError(ErrorCode::kIo, std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

bool IsKernelUeventSender(const sockaddr_nl& addr, socklen_t addr_len) {
  return addr_len == sizeof(sockaddr_nl) && addr.nl_family == AF_NETLINK && addr.nl_pid == 0;
}

NetlinkUeventSource::NetlinkUeventSource(std::shared_ptr<spdlog::logger> logger)
    : log_(logger ? std::move(logger) : GetLogger("linux-devices")) {}

Status NetlinkUeventSource::Open() {
  UniqueFd sock(
      ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT));
  if (!sock.valid()) return Errno("socket(NETLINK_KOBJECT_UEVENT)");
  const int size = kReceiveBufferBytes;
  // SO_RCVBUFFORCE passes rmem_max but needs CAP_NET_ADMIN; fall back.
  if (::setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0 &&
      ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) {
    log_->warn("cannot enlarge the uevent receive buffer: {}", std::strerror(errno));
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = kKernelUeventGroup;
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Errno("bind(NETLINK_KOBJECT_UEVENT)");
  }
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return Errno("eventfd");
  socket_ = std::move(sock);
  stop_ = std::move(stop);
  return Status::Ok();
}

Result<UeventBatch> NetlinkUeventSource::Receive() {
  UeventBatch batch;
  if (!socket_.valid()) return MakeError(ErrorCode::kFailedPrecondition, "uevent socket closed");
  for (;;) {
    pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return Errno("poll on the uevent socket");
    }
    if (fds[1].revents != 0) {
      batch.stopped = true;
      return batch;
    }
    // POLLERR on a netlink socket is a pending ENOBUFS; recvmsg reports it.
    if ((fds[0].revents & POLLNVAL) != 0) {
      return MakeError(ErrorCode::kIo, "uevent socket is no longer valid");
    }
    break;
  }
  // Drain everything queued so one batch triggers one rescan.
  char buf[kMaxUeventBytes + 1];
  for (;;) {
    sockaddr_nl sender{};
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_name = &sender;
    msg.msg_namelen = sizeof sender;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = ::recvmsg(socket_.get(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        batch.overflow = true;
        continue;
      }
      return Errno("recvmsg on the uevent socket");
    }
    if (!IsKernelUeventSender(sender, msg.msg_namelen)) {
      log_->warn("ignored a uevent message from netlink port {} (not the kernel)", sender.nl_pid);
      continue;
    }
    if ((msg.msg_flags & MSG_TRUNC) != 0) {
      log_->warn("ignored an oversized uevent message");
      continue;
    }
    batch.messages.emplace_back(buf, static_cast<std::size_t>(n));
  }
  return batch;
}

void NetlinkUeventSource::Interrupt() {
  if (!stop_.valid()) return;
  const uint64_t one = 1;
  // Only fails when the counter would overflow, which leaves it readable.
  [[maybe_unused]] ssize_t n = ::write(stop_.get(), &one, sizeof one);
}

void NetlinkUeventSource::Close() {
  socket_.reset();
  stop_.reset();
}

}  // namespace mamori
