#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/device/device.h"

namespace mamori {

// USB class codes (usb.org "Defined Class Codes") the classification uses.
inline constexpr uint8_t kUsbClassPerInterface = 0x00;    // device class: see interfaces
inline constexpr uint8_t kUsbClassCommunications = 0x02;  // CDC control
inline constexpr uint8_t kUsbClassHid = 0x03;
inline constexpr uint8_t kUsbClassStillImage = 0x06;
inline constexpr uint8_t kUsbClassPrinter = 0x07;
inline constexpr uint8_t kUsbClassMassStorage = 0x08;
inline constexpr uint8_t kUsbClassHub = 0x09;
inline constexpr uint8_t kUsbClassCdcData = 0x0A;
inline constexpr uint8_t kUsbClassSmartCard = 0x0B;
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
//   0x02 CDC control: the networking subclasses (0x06 ECM, 0x07 ATM, 0x0A
//     MDLM, 0x0C EEM, 0x0D NCM, 0x0E MBIM) and RNDIS (0x02/0x02/0xFF) are
//     kNetwork; every other subclass (0x02 ACM with protocols 0x00..0x06,
//     modems, OBEX, ...) is a communications line to another device:
//     kSerial. 0x0A CDC data carries the payload of either and is kNetwork.
//   0xE0 wireless controller: 0x01/0x01 Bluetooth and 0x01/0x04 Bluetooth
//     AMP are kBluetooth, 0x01/0x03 (RNDIS) is kNetwork, the rest (wire
//     adapters, UWB radio control) stays kWireless.
//   0xEF miscellaneous: 0x04/xx (RNDIS over Ethernet, Wi-Fi, WiMAX, WWAN,
//     raw IP, GPRS) is kNetwork; 0x01/0x01 and 0x01/0x02 (ActiveSync and
//     Palm phone synchronization, file transfer to a phone) are kStillImage.
//   0x0B smart card (CCID, the My Number card reader) is kSmartCard.
//   0xFF vendor-specific 0x42/0x01 is Android's adb (files move both ways
//     with `adb pull`) and counts as kStillImage, like MTP.
//   0x07 printer, 0x03 HID and 0x09 hub map to their classes; everything
//     else (audio, video, 0xFF vendor-specific, ...) is kOther.
DeviceClass ClassifyUsbInterface(uint8_t cls, uint8_t subclass, uint8_t protocol);

// As above, also given the interface string (iInterface) when known.
// Android's MTP mode uses a vendor-specific interface (0xFF/0xFF/0x00)
// named "MTP"; such an interface is kStillImage. The string is device data:
// it can only make an interface more restricted, never less.
DeviceClass ClassifyUsbInterfaceNamed(uint8_t cls, uint8_t subclass, uint8_t protocol,
                                      std::string_view interface_name);

// True when the class of an interface with this triple may depend on facts
// other than the triple: its string, the driver that would bind it, or the
// vendor's id list. Today: every vendor-specific (0xFF) interface.
bool UsbInterfaceNeedsMoreThanItsClass(uint8_t cls);

// The class of a whole device: the most sensitive class among its own
// (when bDeviceClass names a function, e.g. 0x09 hub or 0xE0 Bluetooth)
// and its interfaces', so that a keyboard with a storage or network
// interface is a storage or network device. bDeviceClass 0x00 (per
// interface), 0x02 (CDC: the interfaces say which), 0xEF (IAD) and 0xFF
// (vendor) name no function. Order: mass storage, optical, card reader,
// still image, network, wifi, bluetooth, serial, wireless, printer, other,
// smart card, biometric, HID, hub. kUnspecified when nothing is known.
DeviceClass ClassifyUsbDevice(uint8_t device_class, uint8_t device_subclass,
                              uint8_t device_protocol, std::span<const DeviceClass> interfaces);

// Position of `c` in the order above (0 = most sensitive); kUnspecified last.
int UsbClassSensitivity(DeviceClass c);

}  // namespace mamori
