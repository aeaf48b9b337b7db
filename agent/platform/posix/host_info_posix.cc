#include <sys/utsname.h>
#include <unistd.h>

#include <array>

#include "agent/core/host_info.h"

namespace mamori {

HostInfo ReadHostInfo() {
  HostInfo info;
  // HOST_NAME_MAX is 64 on Linux; the extra byte guarantees termination
  // even when gethostname truncates without one.
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) == 0) info.hostname = name.data();
  struct utsname u {};
  if (::uname(&u) == 0) {
    info.os = std::string(u.sysname) + " " + u.release + " " + u.machine;
  }
  return info;
}

}  // namespace mamori
