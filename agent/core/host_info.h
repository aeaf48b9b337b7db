#pragma once

#include <string>

namespace mamori {

// What the terminal reports about its host.
struct HostInfo {
  std::string hostname;
  std::string os;  // e.g. "Linux 6.1.0-18-amd64 x86_64", "Windows 10.0.19045 x86_64"
};

// Reads the host name and the OS: gethostname and uname (host_info_posix.cc),
// or the DNS host name and the Windows version from ntdll (host_info_win32.cc).
// Fields the system will not tell are left empty rather than failing the agent.
HostInfo ReadHostInfo();

}  // namespace mamori
