#pragma once

#include <linux/netlink.h>
#include <spdlog/logger.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/platform/posix/unique_fd.h"
#include "common/base/result.h"

namespace mamori {

// What one Receive() returned.
struct UeventBatch {
  std::vector<std::string> messages;  // raw messages from the kernel
  // The socket overflowed (ENOBUFS): uevents were lost, rescan everything.
  bool overflow = false;
  // Interrupt() was called; no more messages follow.
  bool stopped = false;
};

// A stream of kernel uevents.
class UeventSource {
 public:
  virtual ~UeventSource() = default;

  // Starts listening. From the moment Open returns, uevents are kept (by
  // the kernel, in the socket buffer) until Receive takes them.
  virtual Status Open() = 0;
  // Blocks until messages arrive, the socket overflows or Interrupt() is
  // called. An error means the source is broken and should be closed.
  virtual Result<UeventBatch> Receive() = 0;
  // Makes the current or next Receive return `stopped`. Thread-safe.
  virtual void Interrupt() = 0;
  virtual void Close() = 0;
};

// True only for a message the kernel sent: a netlink address of the right
// size and family with port id 0. Userspace senders (udev re-broadcasts on
// the same multicast group, or any process with CAP_NET_ADMIN) have a
// non-zero port id.
bool IsKernelUeventSender(const sockaddr_nl& addr, socklen_t addr_len);

// A NETLINK_KOBJECT_UEVENT socket on the kernel's multicast group 1.
class NetlinkUeventSource final : public UeventSource {
 public:
  // Kernel uevents arrive in bursts (a hub with devices, a disk with
  // partitions); a large buffer keeps ENOBUFS rare.
  static constexpr int kReceiveBufferBytes = 8 << 20;

  explicit NetlinkUeventSource(std::shared_ptr<spdlog::logger> logger = nullptr);

  Status Open() override;
  Result<UeventBatch> Receive() override;
  void Interrupt() override;
  void Close() override;

 private:
  const std::shared_ptr<spdlog::logger> log_;
  UniqueFd socket_;
  UniqueFd stop_;  // eventfd
};

}  // namespace mamori
