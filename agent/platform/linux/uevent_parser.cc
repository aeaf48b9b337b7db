#include "agent/platform/linux/uevent_parser.h"

#include <charconv>

namespace mamori {
namespace {

Error Malformed(std::string why) {
  return MakeError(ErrorCode::kInvalidArgument, "malformed uevent: " + std::move(why));
}

bool ValidAction(std::string_view a) {
  if (a.empty() || a.size() > 16) return false;
  for (char c : a) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

// An absolute path without empty, "." or ".." components and without
// control bytes: safe to append to the sysfs root.
bool ValidDevpath(std::string_view p) {
  if (p.size() < 2 || p.front() != '/' || p.back() == '/') return false;
  for (char c : p) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  std::size_t start = 1;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    const std::string_view part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool ValidKey(std::string_view k) {
  if (k.empty() || k.size() > 64) return false;
  for (char c : k) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<Uevent> ParseUevent(std::string_view bytes) {
  if (bytes.empty()) return Malformed("empty message");
  if (bytes.starts_with("libudev")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "udev re-broadcast (\"libudev\" header), not a kernel uevent");
  }
  if (bytes.size() > kMaxUeventBytes) {
    return Malformed(std::to_string(bytes.size()) + " bytes, over the " +
                     std::to_string(kMaxUeventBytes) + "-byte limit");
  }
  if (bytes.back() != '\0') return Malformed("the last field is not NUL-terminated");

  const std::size_t header_end = bytes.find('\0');
  const std::string_view header = bytes.substr(0, header_end);
  const std::size_t at = header.find('@');
  if (at == std::string_view::npos) return Malformed("the header has no '@'");
  const std::string_view header_action = header.substr(0, at);
  const std::string_view header_devpath = header.substr(at + 1);

  Uevent ev;
  std::size_t pos = header_end + 1;
  while (pos < bytes.size()) {
    const std::size_t end = bytes.find('\0', pos);  // exists: the message ends in NUL
    const std::string_view field = bytes.substr(pos, end - pos);
    pos = end + 1;
    if (field.empty()) return Malformed("empty field");
    const std::size_t eq = field.find('=');
    if (eq == std::string_view::npos) return Malformed("a field is not KEY=VALUE");
    const std::string_view key = field.substr(0, eq);
    if (!ValidKey(key)) return Malformed("invalid key in a field");
    auto [it, inserted] = ev.vars.try_emplace(std::string(key), field.substr(eq + 1));
    if (!inserted) return Malformed("duplicate key " + std::string(key));
  }

  auto get = [&ev](std::string_view key) -> const std::string* {
    auto it = ev.vars.find(key);
    return it == ev.vars.end() ? nullptr : &it->second;
  };
  const std::string* action = get("ACTION");
  const std::string* devpath = get("DEVPATH");
  const std::string* subsystem = get("SUBSYSTEM");
  if (action == nullptr) return Malformed("no ACTION");
  if (devpath == nullptr) return Malformed("no DEVPATH");
  if (subsystem == nullptr || subsystem->empty()) return Malformed("no SUBSYSTEM");
  if (!ValidAction(*action)) return Malformed("invalid ACTION");
  if (*action != header_action) return Malformed("ACTION differs from the header");
  if (*devpath != header_devpath) return Malformed("DEVPATH differs from the header");
  if (!ValidDevpath(*devpath)) return Malformed("DEVPATH is not a clean absolute path");

  ev.action = *action;
  ev.devpath = *devpath;
  ev.subsystem = *subsystem;
  if (const std::string* t = get("DEVTYPE")) ev.devtype = *t;
  if (const std::string* n = get("DEVNAME")) ev.devname = *n;
  if (const std::string* s = get("SEQNUM")) {
    const char* first = s->data();
    const char* last = first + s->size();
    auto [ptr, ec] = std::from_chars(first, last, ev.seqnum);
    if (s->empty() || ec != std::errc() || ptr != last) return Malformed("SEQNUM is not a number");
  }
  return ev;
}

}  // namespace mamori
