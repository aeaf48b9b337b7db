// libFuzzer target: any netlink payload either parses into a uevent whose
// DEVPATH is safe to join to the sysfs root, or is refused with a reason.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/platform/linux/uevent_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  mamori::Result<mamori::Uevent> ev = mamori::ParseUevent(bytes);
  if (!ev.ok()) {
    if (ev.error().message.empty()) __builtin_trap();
    return 0;
  }
  if (size > mamori::kMaxUeventBytes) __builtin_trap();
  if (ev->action.empty() || ev->subsystem.empty()) __builtin_trap();
  const std::string_view path = ev->devpath;
  if (path.empty() || path.front() != '/') __builtin_trap();
  // No "." or ".." component may survive: the path is joined to /sys.
  for (std::size_t i = 0; i < path.size();) {
    const std::size_t next = path.find('/', i + 1);
    const std::string_view part =
        path.substr(i + 1, (next == std::string_view::npos ? path.size() : next) - i - 1);
    if (part == "." || part == "..") __builtin_trap();
    if (next == std::string_view::npos) break;
    i = next;
  }
  return 0;
}
