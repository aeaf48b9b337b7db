#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/device/device.h"

namespace mamori {

// A device as the platform sees it, before any decision.
struct ObservedDevice {
  std::string device_id;  // stable while the device is present
  DeviceIdentity identity;
  // What tells this plug-in of the device from the next one at the same
  // device_id (on Linux the kernel's device number, which every plug-in
  // gets anew). A device whose instance changed between two looks was
  // unplugged and replaced: it is decided and enforced afresh even when it
  // describes itself exactly as the one before. "" = the platform has none.
  std::string instance;
  // Why the device could not be identified (descriptors unreadable or
  // rejected by the parser while the kernel accepted them, attributes gone
  // half-way through a removal); "" = identified. Such a device is blocked
  // under the rule "unidentified", whatever the policy says of its class.
  std::string unidentified;
  // An enforcement failure the backend found after Apply returned (say, a
  // read-only disk it could not protect once the disk appeared). The core
  // then applies its decision again, and Apply reports the failure.
  std::string enforcement_error;
};

// The matched_rule of a decision an exception made: this prefix and the
// exception's id ("exception:EX-12"). A backend whose class-wide controls
// must let such a device through (the Windows registry line) tells it by
// this.
inline constexpr std::string_view kExceptionRulePrefix = "exception:";

// Platform device control: enumerate, watch and enforce. One implementation
// per platform (simulated, Linux sysfs, Windows SetupAPI), chosen in main.
class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;

  // "simulated", "linux-sysfs", "windows-setupapi".
  virtual std::string_view Name() const = 0;

  // Starts watching. `on_change` is called from a backend thread whenever the
  // set of present devices may have changed; it must not block.
  virtual Status Start(std::function<void()> on_change) = 0;
  // Stops watching; `on_change` is not called after Stop returns.
  virtual void Stop() = 0;

  // The devices present now.
  virtual std::vector<ObservedDevice> Enumerate() = 0;

  // Carries out `decision.action` for the device (and, for a blocked
  // composite device, keeps `decision.allowed_interface_classes` usable).
  // kNotFound when the device is gone (unplugged meanwhile): the core
  // counts it as removed. Any other error is an enforcement failure.
  virtual Status Apply(const ObservedDevice& device, const Decision& decision) = 0;
};

}  // namespace mamori
