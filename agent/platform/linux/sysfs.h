#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// Longest sysfs text attribute read (serial, product, ...). Kernel text
// attributes fit in a page; the limit also bounds what a hostile device can
// make the agent hold. Raw bytes are kept: the collector sanitizes.
inline constexpr std::size_t kMaxSysfsAttributeBytes = 4096;
// Longest `descriptors` attribute read: a device descriptor and up to 8
// configurations are normally a few hundred bytes.
inline constexpr std::size_t kMaxSysfsDescriptorBytes = 64 * 1024;

// File access under a sysfs root ("/sys" in production, a fixture tree in
// tests). Paths are relative to the root and start with '/', e.g.
// "/bus/usb/devices/1-2/authorized".
class Sysfs {
 public:
  virtual ~Sysfs() = default;

  // At most `max_bytes` of the file (more is cut off, not an error).
  virtual Result<std::string> Read(std::string_view path, std::size_t max_bytes) = 0;
  // Writes `value` in one write(2); a short or failed write is an error
  // carrying the kernel's errno text.
  virtual Status Write(std::string_view path, std::string_view value) = 0;
  // Entry names of a directory (no "." or ".."), sorted.
  virtual Result<std::vector<std::string>> List(std::string_view dir) = 0;
  virtual bool Exists(std::string_view path) = 0;
  // The path with every symbolic link resolved, relative to the root
  // ("/devices/pci0000:00/0000:00:14.0/usb1/1-2"); an error when it leaves
  // the root.
  virtual Result<std::string> RealPath(std::string_view path) = 0;
};

class SysfsImpl final : public Sysfs {
 public:
  explicit SysfsImpl(std::string root);

  Result<std::string> Read(std::string_view path, std::size_t max_bytes) override;
  Status Write(std::string_view path, std::string_view value) override;
  Result<std::vector<std::string>> List(std::string_view dir) override;
  bool Exists(std::string_view path) override;
  Result<std::string> RealPath(std::string_view path) override;

 private:
  std::string Full(std::string_view path) const;

  const std::string root_;
};

// A text attribute without its one trailing newline.
std::string_view TrimNewline(std::string_view s);

// The error code of a failed sysfs call with errno `err`. kNotFound means the
// object is gone: ENOENT, and ENODEV, which the kernel returns for a write to
// an attribute of a device it is removing, or removed since the open (a stick
// pulled while its decision is written). kNotFound from a backend's Apply is a
// removal, not an enforcement failure.
ErrorCode SysfsErrorCode(int err);

}  // namespace mamori
