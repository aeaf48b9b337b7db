#pragma once

// The local channel of `mamori-agent unlock CODE` on Linux: a Unix stream
// socket (default /run/mamori/unlock.sock). Any local user may connect: the
// code is the credential, and the service limits guessing; the kernel's
// SO_PEERCRED names who typed it (uid and account), recorded in the event.
//
// One request per connection, one line each way (bounded):
//   client:  "UNLOCK <code>\n"
//   service: "accepted\t<message>\n" or "refused\t<reason>\t<message>\n"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "agent/core/unlock_service.h"
#include "agent/platform/posix/unique_fd.h"
#include "common/base/result.h"

namespace mamori {

using UnlockHandler = std::function<UnlockReply(std::string_view code, std::string_view requester)>;

class UnlockSocketServer {
 public:
  // Creates the socket's directory (0755) if needed, replaces a stale
  // socket, listens (mode 0666) and serves on a thread until destroyed.
  static Result<std::unique_ptr<UnlockSocketServer>> Listen(const std::string& path,
                                                            UnlockHandler handler);
  ~UnlockSocketServer();
  UnlockSocketServer(const UnlockSocketServer&) = delete;
  UnlockSocketServer& operator=(const UnlockSocketServer&) = delete;

 private:
  UnlockSocketServer(std::string path, UniqueFd listener, UniqueFd wake_read, UniqueFd wake_write,
                     UnlockHandler handler);
  void Serve();
  void ServeOne(int fd);

  const std::string path_;
  UniqueFd listener_;
  UniqueFd wake_read_;
  UniqueFd wake_write_;
  UnlockHandler handler_;
  std::thread thread_;
};

// Sends `code` to the service at `path` and returns its reply.
Result<UnlockReply> SendUnlockCode(const std::string& path, std::string_view code);

// "uid 1000 (alice)" for a peer's uid.
std::string DescribeLocalUser(unsigned uid);

}  // namespace mamori
