#pragma once

#include <spdlog/logger.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "agent/core/device_backend.h"
#include "agent/platform/linux/block_guard.h"
#include "agent/platform/linux/sysfs.h"
#include "agent/platform/linux/uevent_parser.h"
#include "agent/platform/linux/uevent_source.h"
#include "agent/platform/linux/usb_descriptors.h"
#include "agent/platform/linux/usb_driver_classes.h"
#include "common/base/result.h"

namespace mamori {

// "1-2", "3-1.4.2": a USB device's sysfs name (not a root hub "usb1", not
// an interface "1-2:1.0").
bool IsUsbDeviceName(std::string_view name);
// "usb1".."usb999": a root hub.
bool IsRootHubName(std::string_view name);
// Orders USB device names parents first: "1-2" < "1-2.1" < "1-2.1.3" < "1-3"
// < "2-1" (bus and ports compared as numbers).
bool UsbNameParentsFirst(std::string_view a, std::string_view b);

// Enforcement through the kernel's USB authorization (Documentation/
// admin-guide/usb/authorization.rst) under a sysfs root:
//   - Start opens the uevent socket, then sets authorized_default=0 and
//     interface_authorized_default=0 on every root hub: a device that
//     arrives while the agent is down, starting or crashed stays unusable,
//     and no interface of a newly authorized device binds a driver before
//     the agent decided about it. Stop never re-authorizes (fail closed).
//   - Apply writes `authorized` on the device and on each interface. An
//     interface the kernel created unauthorized does not probe drivers when
//     authorized later (usb_authorize_interface only sets the flag), so
//     its name is written to /bus/usb/drivers_probe after authorizing.
//   - read_only: the device's disks and partitions are set read-only with
//     BLKROSET as their uevents arrive (and at Apply for those present).
//     If that fails, the device is de-authorized at once and stays so
//     until unplugged; Enumerate then carries the failure in the device's
//     enforcement_error, so the core applies again and Apply returns it.
//   - automounters: the udev rule shipped in packaging/linux/udev/ hides
//     every USB disk and partition from udisks2 and systemd until the
//     agent releases it with a synthetic uevent: a read_only one once it
//     and its whole device are read-only, an allowed one as it appears.
//   - audit_only: decides nothing and writes nothing, not even
//     authorized_default; Apply is a no-op. USB disks are released to
//     automounters as they appear (nothing is held back in that mode).
//   - Classification before the decision: a vendor-specific (0xFF)
//     interface is classified by its string (iInterface "MTP"), by the
//     kernel driver that would bind it (`drivers`, from modules.alias) and
//     by the vendor list of fingerprint sensors (common/device/usb_ids.h).
//     The string exists only once the device is configured, so an
//     unauthorized device with such an interface is first authorized on
//     its own: with interface_authorized_default=0 its interfaces are
//     created unauthorized and no driver binds; the strings are read, and
//     the decision then authorizes the wanted interfaces or de-authorizes
//     the device. This is done once per plug-in (devnum) and only when the
//     root hub holds interfaces back; a string that cannot be read counts
//     as "MTP" (storage, blocked by default).
class SysfsDeviceBackend final : public DeviceBackend {
 public:
  SysfsDeviceBackend(std::unique_ptr<Sysfs> sysfs, std::unique_ptr<UeventSource> uevents,
                     std::unique_ptr<BlockGuard> block_guard, bool audit_only,
                     UsbDriverClasses drivers = {},
                     std::shared_ptr<spdlog::logger> logger = nullptr);
  ~SysfsDeviceBackend() override;
  SysfsDeviceBackend(const SysfsDeviceBackend&) = delete;
  SysfsDeviceBackend& operator=(const SysfsDeviceBackend&) = delete;

  std::string_view Name() const override { return "linux-sysfs"; }
  Status Start(std::function<void()> on_change) override;
  void Stop() override;
  std::vector<ObservedDevice> Enumerate() override;
  Status Apply(const ObservedDevice& device, const Decision& decision) override;

  // Handles one batch from the uevent source as the listener thread does.
  // Public for tests that drive the backend without a thread.
  void HandleBatch(const UeventBatch& batch);

 private:
  // Apply for a valid device name: checks that the device is still the
  // plug-in that was decided, writes, reads back.
  Status ApplyChecked(const ObservedDevice& device, const Decision& decision);
  // The writes of Apply, for a device that was present when it was
  // enumerated.
  Status ApplyPresent(const ObservedDevice& device, const Decision& decision);
  struct Interface {
    std::string name;  // "1-2:1.0"
    DeviceClass cls = DeviceClass::kUnspecified;
    // The class of each alternate setting, when the descriptors are known:
    // a driver may switch to any of them, so each must be allowed.
    std::vector<DeviceClass> alternates;
  };
  // The device's present interfaces, each with whether `decision` keeps it
  // authorized.
  std::vector<std::pair<Interface, bool>> PlanInterfaces(const std::string& device,
                                                         const Decision& decision);
  // The device's `authorized` and each interface's as `decision` sets them;
  // an error names the first attribute that differs.
  Status ReadBack(const std::string& device, const Decision& decision);
  // kNotFound when the device at `device.device_id` is gone or another
  // plug-in (its devnum differs from `device.instance`).
  Status CheckInstance(const ObservedDevice& device);
  // What a function's class may depend on besides its class triple.
  struct DeviceFacts {
    uint16_t vendor_id = 0;
    uint16_t product_id = 0;
    std::string product;
  };
  // Interface strings by (configuration value, interface number). Missing:
  // the interface has no string (or is in a configuration not active).
  struct Label {
    bool readable = true;
    std::string text;
  };
  using Labels = std::map<std::pair<uint8_t, uint8_t>, Label>;
  struct LabelCache {
    std::string devnum;
    std::string descriptor_hash;
    Labels labels;
  };

  DeviceClass ClassifyFunction(const UsbDescriptors& desc, const DeviceFacts& facts,
                               const UsbInterfaceDescriptor& intf, const Labels& labels) const;
  // The class of interface (config, number) of the active configuration:
  // the most sensitive over its alternate settings.
  DeviceClass ClassifyInterfaceNumber(const UsbDescriptors& desc, const DeviceFacts& facts,
                                      unsigned config, unsigned number, const Labels& labels) const;
  // The interface strings of a device that needs them, authorizing the
  // device alone first when it is not configured (see the class comment).
  Labels ReadLabels(const std::string& name, const UsbDescriptors& desc,
                    const std::string& descriptor_hash);
  bool RootHubHoldsInterfacesBack(const std::string& name);

  void ListenLoop();
  // Writes the fail-closed defaults on one root hub.
  Status LockRootHub(const std::string& hub);
  Status LockAllRootHubs();
  Result<ObservedDevice> ReadDevice(const std::string& name);
  // The interfaces present now. With descriptors, each is classified like
  // ReadDevice does; without, from its sysfs attributes.
  std::vector<Interface> ReadInterfaces(const std::string& device,
                                        const UsbDescriptors* desc = nullptr,
                                        const DeviceFacts* facts = nullptr,
                                        const Labels* labels = nullptr);
  Status WriteVerified(const std::string& path, std::string_view value);
  Status Authorize(const std::string& device, const Decision& decision);
  // Kernel names of the disks and partitions below `devpath` now present.
  Result<std::vector<std::string>> BlockDevicesBelow(const std::string& devpath);
  // BLKROSET for every disk and partition below `devpath` now present, then
  // each is released to automounters.
  Status ProtectPresentBlockDevices(const std::string& devpath);
  // Tells udev (through a synthetic uevent) that block device `block` may
  // be shown to automounters now: the shipped udev rule hides USB disks
  // until then, so that a read_only disk is never mounted writable first.
  void ReleaseToAutomounters(const std::string& block);
  // A read-only enforcement failure: de-authorizes the device and
  // remembers why. `from_apply` false (found by the listener): the device is
  // also hidden from the next Enumerate so that the core decides and
  // Applies again. Returns the failure as reported.
  std::string FailReadOnly(const std::string& device, const std::string& message, bool from_apply);
  void OnBlockUevent(const Uevent& ev);
  void Notify();

  const std::unique_ptr<Sysfs> sysfs_;
  const std::unique_ptr<UeventSource> uevents_;
  const std::unique_ptr<BlockGuard> block_guard_;
  const bool audit_only_;
  const UsbDriverClasses drivers_;
  const std::shared_ptr<spdlog::logger> log_;

  // Serializes Start and Stop.
  std::mutex lifecycle_mu_;
  std::jthread listener_;  // guarded by lifecycle_mu_

  mutable std::mutex mu_;
  std::function<void()> on_change_;  // guarded by mu_
  // Until the first Enumerate after Start finishes, notifications are held
  // and replayed once it has (USBGuard #315).
  bool initial_scan_done_ = false;  // guarded by mu_
  bool notify_pending_ = false;     // guarded by mu_
  // read_only devices: sysfs name -> canonical devpath ("/devices/...").
  std::map<std::string, std::string, std::less<>> read_only_;  // guarded by mu_
  // allowed devices, likewise: their disks are released as they appear.
  std::map<std::string, std::string, std::less<>> allowed_;  // guarded by mu_
  struct Failure {
    std::string message;
    std::string devnum;  // the kernel's device address: new on every plug-in
  };
  // Read-only enforcement failures, kept until the device is unplugged.
  std::map<std::string, Failure, std::less<>> failures_;  // guarded by mu_
  // Interface strings read for a device, kept for this plug-in of it so
  // that a device de-authorized after its decision is not authorized again
  // on the next look.
  std::map<std::string, LabelCache, std::less<>> labels_;  // guarded by mu_
};

}  // namespace mamori
