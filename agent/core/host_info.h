#pragma once

#include <string>

namespace mamori {

// What the terminal reports about its host.
struct HostInfo {
  std::string hostname;
  std::string os;  // e.g. "Linux 6.1.0-18-amd64 x86_64"
};

// Reads the host name (gethostname) and kernel (uname). Fields the system
// will not tell are left empty rather than failing the agent.
HostInfo ReadHostInfo();

}  // namespace mamori
