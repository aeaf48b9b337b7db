#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/device/device.h"

namespace mamori {

// USB class codes (usb.org "Defined Class Codes") the classification uses.
inline constexpr uint8_t kUsbClassPerInterface = 0x00;  // device class: see interfaces
inline constexpr uint8_t kUsbClassHid = 0x03;
inline constexpr uint8_t kUsbClassStillImage = 0x06;
inline constexpr uint8_t kUsbClassPrinter = 0x07;
inline constexpr uint8_t kUsbClassMassStorage = 0x08;
inline constexpr uint8_t kUsbClassHub = 0x09;
inline constexpr uint8_t kUsbClassWireless = 0xE0;
inline constexpr uint8_t kUsbClassMiscellaneous = 0xEF;
inline constexpr uint8_t kUsbClassVendorSpecific = 0xFF;

// Maps a USB interface's class triple to the broad class the rule engine
// matches on. Pure. Choices (see the test for each):
//   0x08 mass storage: subclass 0x02 (MMC-5, the CD/DVD command set) is
//     kOptical; every other subclass (0x06 SCSI transparent incl. the UAS
//     protocol 0x62, 0x04 UFI floppy, 0x05 SFF-8070i, 0x01 RBC, ...) is
//     kMassStorage. Most USB optical drives and all SD card readers also use
//     0x06, so kOptical and kCardReader cannot be told from class codes
//     alone; both are removable storage to the rule engine either way.
//   0x06 still image (PTP, and MTP in PTP-compatible mode, e.g. QEMU's
//     usb-mtp: 0x06/0x01/0x01) is kStillImage.
//   0x07 printer, 0xE0 wireless controller (Bluetooth), 0x03 HID and 0x09
//     hub map to their classes; everything else (audio, video, CDC, smart
//     card, 0xFF vendor-specific, ...) is kOther.
DeviceClass ClassifyUsbInterface(uint8_t cls, uint8_t subclass, uint8_t protocol);

// As above, also given the interface string (iInterface) when known.
// Android's MTP mode uses a vendor-specific interface (0xFF/0xFF/0x00)
// named "MTP"; such an interface is kStillImage. The string is device data:
// it can only make an interface more restricted, never less.
DeviceClass ClassifyUsbInterfaceNamed(uint8_t cls, uint8_t subclass, uint8_t protocol,
                                      std::string_view interface_name);

// The class of a whole device: its bDeviceClass when that names a function
// (e.g. 0x09 hub), else (0x00 per-interface, 0xEF miscellaneous/IAD, 0xFF
// vendor) the most sensitive class among its interfaces, so that a keyboard
// with a storage interface is a storage device. Order: mass storage,
// optical, card reader, still image, wireless, printer, other, HID, hub.
// kUnspecified when nothing is known.
DeviceClass ClassifyUsbDevice(uint8_t device_class, uint8_t device_subclass,
                              uint8_t device_protocol, std::span<const DeviceClass> interfaces);

}  // namespace mamori
