#pragma once

#include <cstdint>
#include <string_view>

namespace mamori {

// Facts that class codes do not carry, kept as short documented lists
// (docs/operator-guide.en.md, "How devices are classified"). Pure.

// True for a vendor whose vendor-specific (0xFF) USB functions are
// fingerprint sensors: Synaptics 06cb, ELAN 04f3, Goodix 27c6, Validity
// 138a, AuthenTec 08ff, UPEK 147e, DigitalPersona 05ba, Egis 1c7a,
// FocalTech 2808, SecuGen 1162, Futronic 1491. No kernel driver binds
// these sensors (libfprint drives them from user space), so neither the
// class codes nor the kernel's module aliases can tell. Their keyboards,
// touchpads and touch screens are HID and are never judged by this list.
bool IsFingerprintSensorVendor(uint16_t vendor_id);

// True for a mass-storage function that is a memory-card reader: a known
// reader chip (Realtek, Genesys Logic, Alcor Micro, Apple, Transcend, ...)
// or a product string that says so ("Card Reader", "SD Reader", "Multi-Card"
// ...). The product string is device data: it can only move a device
// between two storage classes that the policy blocks alike by default.
bool IsMemoryCardReader(uint16_t vendor_id, uint16_t product_id, std::string_view product);

}  // namespace mamori
