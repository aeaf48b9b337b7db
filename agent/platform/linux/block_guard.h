#pragma once

#include <string>
#include <string_view>

#include "agent/platform/linux/sysfs.h"
#include "common/base/result.h"

namespace mamori {

// Makes block devices read-only in the kernel, so that nothing can mount
// them writable or write to them.
class BlockGuard {
 public:
  virtual ~BlockGuard() = default;

  // Sets the block device with kernel name `name` ("sdb", "sdb1")
  // read-only and checks that the kernel reports it so. Idempotent.
  virtual Status SetReadOnly(std::string_view name) = 0;
};

// BLKROSET on <dev_root>/<name>, then BLKROGET and /sys/class/block/<name>/ro
// to verify.
class BlockGuardImpl final : public BlockGuard {
 public:
  BlockGuardImpl(std::string dev_root, Sysfs& sysfs);

  Status SetReadOnly(std::string_view name) override;

 private:
  const std::string dev_root_;
  Sysfs& sysfs_;
};

// A kernel block device name safe to join to /dev and /sys/class/block: not
// empty, no '/', not "." or "..", printable ASCII.
bool IsValidBlockName(std::string_view name);

}  // namespace mamori
