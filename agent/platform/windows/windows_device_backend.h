#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "agent/platform/device_backend.h"
#include "agent/platform/windows/device_manager.h"

namespace mamori {

// Builds the identity of the USB device `usb` from its own ids and those of
// its descendants in `nodes` (interface nodes "USB\VID_..&MI_nn\..", and the
// USBSTOR disk below the device or one of its interfaces). Pure.
DeviceIdentity IdentityFromDevNodes(const DevNode& usb, std::span<const DevNode> nodes);

// DeviceBackend over the PnP tree. Devices are the USB device nodes
// ("USB\VID_xxxx&PID_yyyy\..." without MI_); a blocked device's node is
// disabled and the state re-read to confirm. Arrival notifications
// (CM_Register_Notification) are not wired yet: Start only records the
// callback, and the core's periodic re-enumeration finds new devices.
class WindowsDeviceBackend final : public DeviceBackend {
 public:
  explicit WindowsDeviceBackend(DeviceManager& devices);

  std::string_view Name() const override { return "windows-setupapi"; }
  Status Start(std::function<void()> on_change) override;
  void Stop() override;
  std::vector<ObservedDevice> Enumerate() override;
  Status Apply(const ObservedDevice& device, const Decision& decision) override;

 private:
  Status SetAndConfirm(const std::string& instance_id, bool enabled);

  DeviceManager& devices_;
  std::function<void()> on_change_;
};

}  // namespace mamori
