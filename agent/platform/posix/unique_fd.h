#pragma once

#include <unistd.h>

#include "common/base/unique_resource.h"

namespace mamori {

struct FdTraits {
  using Handle = int;
  static int Invalid() { return -1; }
  static bool IsValid(int fd) { return fd >= 0; }
  static void Close(int fd) { ::close(fd); }
};

// Owns a POSIX file descriptor and closes it exactly once.
using UniqueFd = UniqueResource<FdTraits>;

}  // namespace mamori
