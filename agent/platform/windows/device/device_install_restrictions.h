#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/platform/windows/device/registry_policy.h"
#include "agent/platform/windows/device/setup_class.h"

namespace mamori {

// Device Installation Restrictions (DeviceInstallation.admx, "System >
// Device Installation > Device Installation Restrictions"), the part of the
// registry line that keeps Windows from installing a driver for a new
// storage device at all, so one the agent never saw (agent stopped, a
// class it missed) does not come up.
//
// What is written, and why only this:
//   - "Prevent installation of devices using drivers that match these
//     device setup classes" (DenyDeviceClasses=1 and the class list under
//     the DenyDeviceClasses subkey, "1", "2", ... as Group Policy writes
//     them) for the storage setup classes whose Removable Storage Access is
//     `block` (DeriveRemovableStorageAccess): DiskDrive for removable
//     disks, CDROM for CD/DVD, WPD for phones and cameras. A class that some
//     rule could allow or make read-only is not denied: its devices need
//     their driver to be used at all.
//   - DenyDeviceClassesRetroactive=0, always: retroactive removal would
//     uninstall every device of the class, and the terminal's own system
//     disk is a DiskDrive.
//   - When no class is denied, none of these values exists ("not
//     configured"), so the agent leaves no trace of a restriction it does
//     not want.
//   - Never DenyRemovableDevices ("Prevent installation of removable
//     devices"): Windows counts every USB device as removable, keyboards
//     and mice included, so it would lock out a replacement keyboard.
//     Never DenyUnspecified, deny lists of device or instance ids, or the
//     USB, HIDClass,
//     Keyboard or Mouse setup classes, for the same reason.
//   - Never the Net, Bluetooth, Ports or Modem classes, although the policy
//     blocks network adapters, Bluetooth and serial lines by default. A
//     class denial cannot tell a USB adapter from the terminal's own
//     built-in NIC: even without the retroactive switch it stops Windows
//     from installing or updating any driver of the class, so a driver
//     update for the built-in NIC, the virtual adapter of the VPN client
//     that reaches LGWAN, or the NIC of a replacement docking station would
//     fail to install, and the terminal could lose its only link to the
//     collector. Retroactive, it would remove the built-in NIC at once.
//     These ways out are closed per device instead: the backend disables
//     each USB network, Bluetooth, Wi-Fi or serial function it finds
//     (windows_device_backend.h), which leaves the built-in NIC on PCI
//     alone. Nor the SmartCardReader or Biometric classes: the My Number
//     card reader and the fingerprint reader must keep working.
//
//   - A device an exception in force allows, while it is plugged in:
//     "Allow installation of devices that match any of these device
//     instance IDs" (AllowInstanceIDs=1 and the instance ids of the device
//     and of every node below it under the AllowInstanceIDs subkey) with
//     "Apply layered order of evaluation for Allow and Prevent device
//     installation policies across all device match criteria"
//     (AllowDenyLayered=1). Without the layered order every Prevent
//     setting wins over every Allow one; with it, instance ids come before
//     device ids, setup classes and removable devices, so the listed disk
//     installs although DiskDrive stays denied for every other device. Only
//     instance ids, never hardware ids: those name a model, and would let
//     in every stick of the same model. The layered order exists from
//     Windows 10 21H1 (and 11); on an older build the class denial wins and
//     the excepted stick's disk does not install (the device itself is
//     enabled, its USB node reports no failure). Both values are gone again
//     ("not configured") when no such device is plugged in.
//
// Costs an operator should know: with DiskDrive denied, a new internal
// disk, a mounted VHD or an iSCSI disk does not install either until the
// policy allows removable disks; disks installed before keep working. On a
// domain whose Group Policy manages the same values, the two will fight,
// and every Group Policy refresh shows up as tampering.
inline constexpr std::string_view kDeviceInstallRestrictionsKey =
    "SOFTWARE\\Policies\\Microsoft\\Windows\\DeviceInstall\\Restrictions";
inline constexpr std::string_view kDenyDeviceClasses = "DenyDeviceClasses";
inline constexpr std::string_view kDenyDeviceClassesRetroactive = "DenyDeviceClassesRetroactive";
// The list lives in a subkey with the same name as the switch.
inline constexpr std::string_view kDenyDeviceClassesListKey =
    "SOFTWARE\\Policies\\Microsoft\\Windows\\DeviceInstall\\Restrictions\\DenyDeviceClasses";

// The allow list of instance ids, and the switch that lets it beat class
// denials.
inline constexpr std::string_view kAllowDenyLayered = "AllowDenyLayered";
inline constexpr std::string_view kAllowInstanceIds = "AllowInstanceIDs";
inline constexpr std::string_view kAllowInstanceIdsListKey =
    "SOFTWARE\\Policies\\Microsoft\\Windows\\DeviceInstall\\Restrictions\\AllowInstanceIDs";
// Slots of the allow list; ids beyond it are not allowed (fail closed). A
// stick has two or three nodes (device, disk, sometimes a volume-less
// interface), so this covers a dozen excepted devices plugged in at once.
inline constexpr std::size_t kMaxAllowedInstanceIds = 32;
// Windows' MAX_DEVICE_ID_LEN; a longer id is not an instance id.
inline constexpr std::size_t kMaxInstanceIdLength = 200;

// The setup classes to deny for `access`, in a fixed order (disks, CD/DVD,
// WPD).
std::vector<std::string_view> DeniedSetupClasses(const RemovableStorageAccess& access);

// The values for `access`: DenyDeviceClasses, DenyDeviceClassesRetroactive
// and list entries "1".."3" (kMissing where unused, so an entry left from a
// stricter policy is removed and one added later is drift).
// Then AllowDenyLayered, AllowInstanceIDs and list entries
// "1".."kMaxAllowedInstanceIds" for `allowed_instance_ids` (kMissing where
// unused, and all of them missing with no id). Ids that are empty, longer
// than kMaxInstanceIdLength or hold a control character are left out, as
// are those past the last slot.
std::vector<RegistryPolicyValue> DeviceInstallValuesFor(
    const RemovableStorageAccess& access, std::span<const std::string> allowed_instance_ids = {});

}  // namespace mamori
