#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/platform/windows/device/device_notification.h"
#include "common/base/result.h"

namespace mamori {

// What Windows installed for a node. Empty until a driver is installed (a
// device arriving, or one with no matching driver): then only its ids say
// what it is. Chosen by Windows from the device's ids, so it says what the
// device will be used as, not what the device claims to be.
struct DriverBinding {
  // Device setup class (SPDRP_CLASSGUID) as "{xxxxxxxx-...}", lower-case.
  std::string setup_class;
  // The function driver's service (SPDRP_SERVICE), lower-case: "usbser".
  std::string service;
  // A network adapter's interface type: the *IfType keyword its INF writes
  // into the driver key (IANA ifType: 6 Ethernet, 71 IEEE 802.11, 243
  // mobile broadband); 0 when absent or not a network adapter.
  uint32_t if_type = 0;
  bool operator==(const DriverBinding&) const = default;
};

// One node of the PnP device tree, as SetupAPI/cfgmgr32 report it. Strings
// are UTF-8; ids are device-controlled in part (the serial).
struct DevNode {
  std::string instance_id;         // "USB\VID_0781&PID_5581\4C53..."
  std::string parent_instance_id;  // "" for the root
  std::vector<std::string> hardware_ids;
  std::vector<std::string> compatible_ids;
  bool disabled = false;  // DN_HAS_PROBLEM with CM_PROB_DISABLED
  DriverBinding driver;
};

// A present device interface: the path to open it by and the device node
// that exposes it (whose parent chain leads to the USB device).
struct DeviceInterface {
  std::string path;         // "\\?\USBSTOR#Disk&Ven_...#{53f56307-...}"
  std::string instance_id;  // "USBSTOR\Disk&Ven_...\4C53...&0"
  bool operator==(const DeviceInterface&) const = default;
};

// PnP device access behind an interface (house style rule 2): the backend's
// grouping and enforcement logic is tested with a fake; the real one
// (SetupApiDeviceManager) runs under Wine, which has few devices.
class DeviceManager {
 public:
  virtual ~DeviceManager() = default;

  // Every present device node (DIGCF_PRESENT | DIGCF_ALLCLASSES).
  virtual Result<std::vector<DevNode>> ListPresent() = 0;
  // DIF_PROPERTYCHANGE with DICS_ENABLE / DICS_DISABLE (global scope, so
  // the state persists across reboots and re-plugs).
  virtual Status SetEnabled(std::string_view instance_id, bool enabled) = 0;
  // Re-reads the node's state, to confirm SetEnabled took effect.
  virtual Result<bool> IsDisabled(std::string_view instance_id) = 0;
  // Every present interface of class `cls` (DIGCF_PRESENT |
  // DIGCF_DEVICEINTERFACE).
  virtual Result<std::vector<DeviceInterface>> ListInterfaces(InterfaceClass cls) = 0;
};

class SetupApiDeviceManager final : public DeviceManager {
 public:
  Result<std::vector<DevNode>> ListPresent() override;
  Status SetEnabled(std::string_view instance_id, bool enabled) override;
  Result<bool> IsDisabled(std::string_view instance_id) override;
  Result<std::vector<DeviceInterface>> ListInterfaces(InterfaceClass cls) override;
};

}  // namespace mamori
