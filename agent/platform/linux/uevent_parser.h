#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace mamori {

// One kernel uevent as sent on NETLINK_KOBJECT_UEVENT:
//   "add@/devices/pci0000:00/.../1-2\0ACTION=add\0DEVPATH=/devices/...\0"
//   "SUBSYSTEM=usb\0DEVTYPE=usb_device\0SEQNUM=1234\0..."
struct Uevent {
  std::string action;     // add, remove, change, bind, unbind, move, online, offline
  std::string devpath;    // relative to the sysfs root, starts with '/'
  std::string subsystem;  // usb, block, ...
  std::string devtype;    // usb_device, usb_interface, disk, partition, or empty
  std::string devname;    // DEVNAME (e.g. "sdb", "bus/usb/001/004"), or empty
  uint64_t seqnum = 0;
  std::map<std::string, std::string, std::less<>> vars;  // every KEY=VALUE, raw
};

// Largest message accepted. The kernel builds uevents in a 2 KiB buffer
// (UEVENT_BUFFER_SIZE) plus the "action@devpath" header.
inline constexpr std::size_t kMaxUeventBytes = 8192;

// Parses one netlink message (pure; no I/O; never throws). Refuses, with a
// message naming the problem: udev's re-broadcasts ("libudev" magic),
// messages over kMaxUeventBytes, a header without '@' or NUL, fields that
// are not KEY=VALUE or not NUL-terminated, a missing ACTION, DEVPATH or
// SUBSYSTEM, ACTION/DEVPATH that disagree with the header, a DEVPATH that
// is not absolute or contains "." or ".." components (it is joined to the
// sysfs root), and a SEQNUM that is not a decimal number.
Result<Uevent> ParseUevent(std::string_view bytes);

}  // namespace mamori
