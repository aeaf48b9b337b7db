#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace mamori {

// The device interface classes the Windows backend watches for arrival and
// removal. A USB stick shows up as a USB device, then a disk, then a volume;
// optical drives add a CD-ROM interface, phones and cameras a WPD one. A
// network adapter, COM port, modem or Bluetooth radio adds its interface
// once Windows has installed its driver: that is when a vendor-specific
// function's class becomes known (function_class.h), so the backend looks
// again then rather than at the next periodic re-check.
enum class InterfaceClass {
  kUsbDevice,  // GUID_DEVINTERFACE_USB_DEVICE {A5DCBF10-6530-11D2-901F-00C04FB951ED}
  kDisk,       // GUID_DEVINTERFACE_DISK       {53F56307-B6BF-11D0-94F2-00A0C91EFB8B}
  kVolume,     // GUID_DEVINTERFACE_VOLUME     {53F5630D-B6BF-11D0-94F2-00A0C91EFB8B}
  kCdRom,      // GUID_DEVINTERFACE_CDROM      {53F56308-B6BF-11D0-94F2-00A0C91EFB8B}
  kWpd,        // GUID_DEVINTERFACE_WPD        {6AC27878-A6FA-4155-BA85-F98F491D4F33}
  kNet,        // GUID_DEVINTERFACE_NET        {CAC88484-7515-4C03-82E6-71A87ABAC361}
  kComPort,    // GUID_DEVINTERFACE_COMPORT    {86E0D1E0-8089-11D0-9CE4-08003E301F73}
  kModem,      // GUID_DEVINTERFACE_MODEM      {2C7089AA-2E0E-11D1-B114-00C04FC2AAE4}
  kBluetooth,  // GUID_BTHPORT_DEVICE_INTERFACE {0850302A-B344-4FDA-9BE9-90576B8D46F0}
};
inline constexpr InterfaceClass kWatchedInterfaceClasses[] = {
    InterfaceClass::kUsbDevice, InterfaceClass::kDisk,  InterfaceClass::kVolume,
    InterfaceClass::kCdRom,     InterfaceClass::kWpd,   InterfaceClass::kNet,
    InterfaceClass::kComPort,   InterfaceClass::kModem, InterfaceClass::kBluetooth};

// "usb_device", "disk", "volume", "cdrom", "wpd", "net", "comport", "modem",
// "bluetooth".
std::string_view InterfaceClassName(InterfaceClass c);

// Disk, volume, CD-ROM and WPD: interfaces through which files are read and
// written, which a read-only device's protection must cover.
bool IsStorageInterface(InterfaceClass c);

// One arrival or removal of a device interface.
struct DeviceNotification {
  enum class Kind { kArrival, kRemoval };
  Kind kind = Kind::kArrival;
  InterfaceClass cls = InterfaceClass::kUsbDevice;
  // The interface's symbolic link ("\\?\USBSTOR#Disk&Ven_...#{53f56307-...}"),
  // UTF-8, bounded; device-controlled in part.
  std::string path;
  bool operator==(const DeviceNotification&) const = default;
};

// Called for every notification. Runs on whatever thread the OS delivers on
// (a thread pool thread, a window thread, the service's handler thread) and
// must not block: it only queues work.
using DeviceNotificationSink = std::function<void(const DeviceNotification&)>;

// Arrival notifications for kWatchedInterfaceClasses, behind an interface so
// the backend's handling of them is tested with injected events. The real
// sources are in cm_notification.h.
class DeviceNotificationSource {
 public:
  virtual ~DeviceNotificationSource() = default;

  // "cm-notification", "window-message", "service-control".
  virtual std::string_view Name() const = 0;
  // Registers for every watched class. An error when any registration
  // fails: a partial watch would miss arrivals silently.
  virtual Status Start(DeviceNotificationSink sink) = 0;
  // Unregisters; the sink is not called after Stop returns. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace mamori
