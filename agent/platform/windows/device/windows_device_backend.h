#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/device_backend.h"
#include "agent/platform/windows/device/device_manager.h"
#include "agent/platform/windows/device/device_notification.h"
#include "agent/platform/windows/device/disk_attributes.h"
#include "agent/platform/windows/device/registry_policy.h"
#include "agent/platform/windows/device/storage_descriptor.h"

namespace mamori {

// Instance ids of nodes, ordered for lookups by string_view.
using NodeIdSet = std::set<std::string, std::less<>>;

// Builds the identity of the USB device `usb` from its own ids and those of
// its descendants in `nodes` (interface nodes "USB\VID_..&MI_nn\..", and the
// USBSTOR disk below the device or one of its interfaces). `storage_nodes`
// are the USB device and interface nodes a disk was found below: such a
// node is mass storage whatever its class codes say (a vendor-specific
// interface with a disk behind it). Pure.
DeviceIdentity IdentityFromDevNodes(const DevNode& usb, std::span<const DevNode> nodes,
                                    const NodeIdSet& storage_nodes = {});

// The nearest node at or above `instance_id` in `nodes` enumerated by USB
// ("USB\..."), or nullopt when the chain reaches the root without one (at
// most 32 levels; a loop never hangs). Pure.
std::optional<std::string> NearestUsbNode(std::string_view instance_id,
                                          std::span<const DevNode> nodes);

// The identity of a disk with no USB device above it, reported as a device
// of its own: class `cls` (see ClassOfNonUsbDisk), manufacturer, product
// and serial from the storage descriptor, the serial from the instance id
// when the descriptor has none and Windows did not generate the instance
// part. Pure.
DeviceIdentity IdentityFromDisk(const DevNode& disk, const StorageProperties& props,
                                DeviceClass cls);

// True when `instance_id` is `ancestor` or lies below it in `nodes`' parent
// chain (at most 32 levels; a loop never hangs). Pure.
bool IsAtOrBelow(std::string_view instance_id, std::string_view ancestor,
                 std::span<const DevNode> nodes);

// DeviceBackend over the PnP tree. Devices are
//   - the USB device nodes ("USB\VID_xxxx&PID_yyyy\..." without MI_), each
//     function classified from its class codes, the driver Windows bound
//     and its OS-descriptor ids (function_class.h): network, Wi-Fi,
//     Bluetooth and serial functions are disabled like storage when the
//     policy blocks them, per device, so the built-in NIC is never touched
//     (device_install_restrictions.h says why no class is denied); a
//     USB device or interface node with a disk below it counts as mass
//     storage from then on until it is unplugged, so that disabling it (and
//     with it the disk) does not turn it back into a vendor device the
//     default allows;
//   - disks (GUID_DEVINTERFACE_DISK) with no USB node above them whose
//     IOCTL_STORAGE_QUERY_PROPERTY descriptor says SD, MMC, IEEE 1394 or
//     USB, or RemovableMedia (ClassOfNonUsbDisk), and that do not hold the
//     volume Windows runs from (IOCTL_STORAGE_GET_DEVICE_NUMBER against
//     the system volume's disks). The device is the disk's own node. When
//     the system disks cannot be determined, or the disk's number cannot
//     be read, no such disk is reported: control of an SD card is given up
//     rather than risk disabling an eMMC system disk. A reported disk stays
//     reported while its node is present, also once disabled (then Windows
//     lists no interface to query); after a restart of the agent a disabled
//     SD memory card node ("SD\VID_..&OID_..") is reported from its ids
//     alone, so a later decision can enable it again.
//   - Start registers for arrival notifications first (USB devices, disks,
//     volumes, CD-ROMs, WPD; `notifications`), then the core enumerates.
//     The notification callback only queues; a worker thread does the work
//     and then calls `on_change`. Notifications before the first Enumerate
//     are held and replayed once it finished.
//   - block: the device node (for a disk reported on its own, the disk's
//     node) is disabled (DIF_PROPERTYCHANGE, global) and the state re-read
//     to confirm; a composite device with allowed interface classes keeps
//     those and loses the other interfaces.
//   - read_only: the device is recorded before it is enabled, so a disk
//     that arrives afterwards is protected by the worker as soon as its
//     disk or volume notification comes; disks present already are
//     protected by Apply. Every disk below the device (the disk
//     interface's parent chain) gets IOCTL_DISK_SET_DISK_ATTRIBUTES
//     read-only, not persisted, and is read back with
//     IOCTL_DISK_GET_DISK_ATTRIBUTES. A CD-ROM or WPD interface below the
//     device cannot be made read-only per device (only class-wide, by the
//     registry line), so it counts as a failure. On any failure the device
//     is disabled at once (fail closed) and the failure sticks until the
//     device is unplugged: Enumerate carries it in enforcement_error, the
//     core applies again, and Apply returns it.
//   - allow by an exception (decision.matched_rule kExceptionRulePrefix...):
//     the class-wide registry line would keep the device's disk from
//     installing and from being read, so before the device is enabled the
//     allowance listener gets the instance ids of the device and of every
//     node below it (ExceptionAllowance), and once it is enabled the nodes
//     that appeared meanwhile too; a node below it left without a driver
//     (its install was refused before the allowance) has the device
//     restarted once (disabled and enabled) so that Windows installs it
//     again. Another decision for the device, or its unplugging, takes it
//     out of the allowance.
//   Between a disk's arrival and the worker's IOCTL the volume could be
//   mounted; the registry line's Deny_Write covers that moment whenever the
//   policy makes removable disks read-only or blocked class-wide.
class WindowsDeviceBackend final : public DeviceBackend {
 public:
  // `notifications` may be null: then only the core's periodic
  // re-enumeration finds new devices, and read-only disks arriving after
  // Apply are protected only when the core applies again.
  WindowsDeviceBackend(DeviceManager& devices, DiskControl& disks,
                       DeviceNotificationSource* notifications);
  ~WindowsDeviceBackend() override;
  WindowsDeviceBackend(const WindowsDeviceBackend&) = delete;
  WindowsDeviceBackend& operator=(const WindowsDeviceBackend&) = delete;

  std::string_view Name() const override { return "windows-setupapi"; }
  Status Start(std::function<void()> on_change) override;
  void Stop() override;
  std::vector<ObservedDevice> Enumerate() override;
  Status Apply(const ObservedDevice& device, const Decision& decision) override;

  // Called with the whole allowance whenever the devices allowed by an
  // exception, or the nodes below them, change; an error fails the Apply
  // that caused it (the device is usable only once the registry line lets
  // it through). Set before Start.
  void SetAllowanceListener(std::function<Status(const ExceptionAllowance&)> listener);

  // Handles one notification as the worker thread does. Public for tests
  // that drive the backend without the thread.
  void HandleNotification(const DeviceNotification& notification);

  // Notifications waiting for the worker beyond this are dropped and turn
  // into one full re-check.
  static constexpr std::size_t kMaxQueuedNotifications = 256;

 private:
  void OnNotification(const DeviceNotification& notification);  // the sink
  void WorkerLoop();
  // Requires lifecycle_mu_.
  void StopWorker();
  // Protects the disks of every read-only device; failures fail closed.
  void ProtectAllReadOnly();
  Status SetAndConfirm(const std::string& instance_id, bool enabled);
  // Every present disk below `device` read-only and verified; a CD-ROM or
  // WPD interface below it is an error. Does nothing once the device is no
  // longer read-only.
  Status ProtectReadOnly(const std::string& device);
  // Disables the device, records the failure, and (not from Apply) tells
  // the core so that it applies again. Returns the failure as reported.
  std::string FailReadOnly(const std::string& device, const std::string& message, bool from_apply);
  void Notify();
  // Records the nodes at or below `device` (nullopt: forgets the device)
  // and tells the listener when the allowance changed.
  // Lets the device through the registry line, enables it, and restarts it
  // once when a node below it was refused a driver before.
  Status AllowByException(const ObservedDevice& device, std::span<const DevNode> nodes);
  Status UpdateAllowance(const std::string& device, std::optional<ExceptionAllowance> entry);
  ExceptionAllowance AllowanceLocked() const;  // requires mu_

  DeviceManager& devices_;
  DiskControl& disks_;
  DeviceNotificationSource* const notifications_;

  // Serializes Start and Stop.
  std::mutex lifecycle_mu_;
  std::jthread worker_;  // guarded by lifecycle_mu_

  std::mutex queue_mu_;
  // A plain condition variable and flag rather than a stop_token wait:
  // with MinGW GCC 12 under Wine, condition_variable_any::wait(lock,
  // stop_token, pred) followed by request_stop() and join() never returns.
  std::condition_variable queue_cv_;
  std::deque<DeviceNotification> queue_;  // guarded by queue_mu_
  bool queue_overflow_ = false;           // guarded by queue_mu_
  bool worker_stopping_ = false;          // guarded by queue_mu_

  // Serializes disk protection between Apply and the worker.
  std::mutex protect_mu_;

  mutable std::mutex mu_;
  std::function<void()> on_change_;  // guarded by mu_
  bool initial_scan_done_ = false;   // guarded by mu_
  bool notify_pending_ = false;      // guarded by mu_
  // Devices whose decision is read_only, by instance id.
  std::set<std::string, std::less<>> read_only_;  // guarded by mu_
  // Read-only enforcement failures, kept until the device is unplugged.
  std::map<std::string, std::string, std::less<>> failures_;  // guarded by mu_
  // USB device and interface nodes a disk was seen below, while present.
  NodeIdSet storage_nodes_;  // guarded by mu_
  // Disks without a USB node above them that are reported as devices, by
  // instance id, while present.
  std::map<std::string, DeviceIdentity, std::less<>> standalone_disks_;  // guarded by mu_
  // Devices allowed by an exception, by instance id: their nodes and
  // classes. Guarded by mu_; the listener is set before Start.
  std::map<std::string, ExceptionAllowance, std::less<>> excepted_;
  std::function<Status(const ExceptionAllowance&)> allowance_listener_;
  // Serializes allowance updates so the listener sees them in order.
  std::mutex allowance_mu_;
};

}  // namespace mamori
