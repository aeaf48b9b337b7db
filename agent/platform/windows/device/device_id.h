#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/device/device.h"

namespace mamori {

// Windows device instance ids and hardware/compatible ids, parsed into the
// parts the rule engine needs. Pure functions over device-controlled text
// (the serial and the USBSTOR vendor/product strings come from the device).
//
//   USB\VID_0781&PID_5581\4C530001231120115142          a USB device
//   USB\VID_046D&PID_C31C&MI_00\7&1a2b3c4d&0&0000       an interface of it
//   USBSTOR\Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00\4C53...&0   its disk
//   USB\Class_08&SubClass_06&Prot_50                    a compatible id

// Longest instance id Windows produces (MAX_DEVICE_ID_LEN in cfgmgr32.h);
// anything longer is rejected rather than parsed.
inline constexpr std::size_t kMaxDeviceIdChars = 200;

// "ENUMERATOR\device-part\instance-part".
struct InstanceIdParts {
  std::string enumerator;  // upper-cased: "USB", "USBSTOR", "PCI", ...
  std::string device;
  std::string instance;
};
// nullopt unless the id has exactly three non-empty parts and fits
// kMaxDeviceIdChars. A hardware id has no instance part: see
// ParseUsbDevicePart / ParseUsbCompatibleId for those.
std::optional<InstanceIdParts> SplitInstanceId(std::string_view id);

// "VID_0781&PID_5581[&REV_0100][&MI_00]" (any case, fields in this order as
// Windows writes them).
struct UsbDevicePart {
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  std::optional<uint8_t> interface_number;  // MI_xx: an interface node
};
std::optional<UsbDevicePart> ParseUsbDevicePart(std::string_view device_part);

// The device's serial number in a USB instance part, or "" when Windows
// generated the instance part because the device has no usable serial
// ("5&2a3b4c5d&0&1": generated parts contain '&', serials never do). For a
// USBSTOR instance part the trailing "&<lun>" is removed first.
std::string SerialFromInstancePart(std::string_view instance, bool usbstor);

// "Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00" (Windows writes spaces as '_').
struct UsbStorDevicePart {
  std::string type;  // "Disk", "CdRom", "Other"
  std::string vendor;
  std::string product;
  std::string revision;
};
std::optional<UsbStorDevicePart> ParseUsbStorDevicePart(std::string_view device_part);

// A compatible id "USB\Class_08&SubClass_06&Prot_50"; the SubClass and Prot
// fields may be absent ("USB\Class_08&SubClass_06", "USB\Class_08").
struct UsbClassTriple {
  uint8_t cls = 0;
  uint8_t subclass = 0;
  uint8_t protocol = 0;
};
std::optional<UsbClassTriple> ParseUsbCompatibleId(std::string_view id);

// The most specific USB\Class_ triple in a compatible id list (Windows
// lists the full triple first; the one with the most fields wins), or
// nullopt when no id names a USB class.
std::optional<UsbClassTriple> MostSpecificUsbClassTriple(std::span<const std::string> ids);

// The interface class named by the most specific USB\Class_ id in a
// compatible id list (Windows lists the full triple first), through
// common/device/usb_class. nullopt when no id names a USB class.
std::optional<DeviceClass> ClassFromCompatibleIds(std::span<const std::string> ids);

}  // namespace mamori
