#include "agent/platform/linux/block_guard.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "agent/platform/posix/unique_fd.h"

namespace mamori {

bool IsValidBlockName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c <= ' ' || c > '~') return false;
  }
  return true;
}

BlockGuardImpl::BlockGuardImpl(std::string dev_root, Sysfs& sysfs)
    : dev_root_(std::move(dev_root)), sysfs_(sysfs) {}

Status BlockGuardImpl::SetReadOnly(std::string_view name) {
  if (!IsValidBlockName(name)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid block device name");
  }
  const std::string node = dev_root_ + "/" + std::string(name);
  // O_NONBLOCK: a card reader without a card still opens.
  UniqueFd fd(::open(node.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    return MakeError(ErrorCode::kIo, "open " + node + ": " + std::strerror(errno));
  }
  int ro = 1;
  if (::ioctl(fd.get(), BLKROSET, &ro) != 0) {
    return MakeError(ErrorCode::kIo, "BLKROSET " + node + ": " + std::strerror(errno));
  }
  ro = 0;
  if (::ioctl(fd.get(), BLKROGET, &ro) != 0) {
    return MakeError(ErrorCode::kIo, "BLKROGET " + node + ": " + std::strerror(errno));
  }
  if (ro != 1) {
    return MakeError(ErrorCode::kIo, node + " is still writable after BLKROSET");
  }
  const std::string attr = "/class/block/" + std::string(name) + "/ro";
  auto shown = sysfs_.Read(attr, 16);
  if (!shown.ok()) return shown.error();
  if (TrimNewline(*shown) != "1") {
    return MakeError(ErrorCode::kIo, "/sys" + attr + " does not read 1 after BLKROSET");
  }
  return Status::Ok();
}

}  // namespace mamori
