#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "agent/platform/windows/device/device_manager.h"
#include "agent/platform/windows/device/setup_class.h"
#include "common/device/device.h"

namespace mamori {

// The class of one USB function (a single-function device's node, or an
// interface node "USB\VID_..&MI_nn") from everything Windows tells about
// it. Three kinds of evidence, each read here:
//
//   1. The device setup class of the driver Windows installed
//      (DriverBinding::setup_class), for a network adapter its *IfType, and
//      the service when it is one of Microsoft's class drivers.
//      Windows picks the driver from the device's ids, so this says what the
//      function is used as: whatever a device claims in its class codes, a
//      function bound to a network driver is a network adapter.
//   2. Compatible ids Windows builds from a Microsoft OS descriptor the
//      device reports ("USB\MS_COMP_MTP", "USB\MS_COMP_RNDIS&MS_SUBCOMP_
//      5162001", "USB\MS_COMP_WINNCM", "USB\MS_COMP_BLUTUTH&..."): how an
//      Android phone's vendor-specific MTP interface (class FF) gets the
//      MTP driver.
//   3. The interface class triple in the compatible ids ("USB\Class_02&
//      SubClass_0D&Prot_00"), through common/device/usb_class.h, and for
//      the triples that leaves as `other` or `wireless`: CDC ECM 02/06, NCM
//      02/0D, EEM 02/0C, RNDIS 02/02/FF, E0/01/03 and EF/04/01, CDC data 0A
//      -> network; CDC ACM 02/02 with any other protocol -> serial; E0/01/01 and
//      E0/01/04 (AMP) -> bluetooth; 0B -> smart_card; Android Debug Bridge
//      FF/42/01 -> still_image (adb push/pull moves files as MTP does).
//   and for a vendor-specific function no driver claims yet, a short list
//   of USB Wi-Fi chips by vendor:product (kWifiUsbIds).
//
// When the kinds disagree, the more restrictive class wins (see
// MoreRestrictive): evidence can make a function more restricted, never
// less. `other` means "nothing specific known" and yields to any named
// class, so that a fingerprint reader whose class codes say only
// "vendor-specific" is a fingerprint reader once Windows bound the
// biometric driver to it, while a "smart card reader" that Windows bound
// to a network driver is a network adapter.
//
// Limits: before Windows installs a driver, a vendor-specific function is
// known only by its ids: a USB Ethernet adapter or a fingerprint reader
// with class FF is `other` until its driver is installed (then the agent
// re-enumerates and the class changes). A Wi-Fi adapter is recognised by
// *IfType 71 once a driver is installed, before that only when its
// vendor:product is in kWifiUsbIds.
std::optional<DeviceClass> ClassOfUsbFunction(const DevNode& node);

// IANA ifType of IEEE 802.11 (IF_TYPE_IEEE80211 in ipifcons.h), the *IfType
// every native Wi-Fi miniport's INF declares.
inline constexpr uint32_t kIfTypeIeee80211 = 71;

// The class a setup class stands for, or nullopt for setup classes that
// say nothing the rule engine needs (USB, HIDClass, Media, ...). `if_type`
// splits Net into wifi and network.
std::optional<DeviceClass> ClassOfSetupClass(std::string_view setup_class, uint32_t if_type);

// The class a Microsoft in-box function driver's service stands for,
// whatever setup class the INF that installed it chose (vendor INFs often
// install usbser or RNDIS under a class of their own, e.g. WCEUSBS for
// Windows Mobile Device Center): usbser -> serial; rndismp6, usb_rndisx ->
// network; bthusb -> bluetooth; wudfwpdmtp -> still_image. nullopt for any
// other service (case-insensitive).
std::optional<DeviceClass> ClassOfService(std::string_view service);

// The class a "USB\MS_COMP_<id>[&MS_SUBCOMP_<sub>]" compatible id stands
// for (MTP, PTP, RNDIS, WINNCM, BLUTUTH), or nullopt.
std::optional<DeviceClass> ClassOfMsOsCompatibleId(std::string_view id);

// USB Wi-Fi adapters by vendor:product, for a function with no driver yet:
// common chips whose ids the Linux drivers list (rtl8xxxu, rtw88, mt76,
// mt7601u, ath9k_htc, rt2800usb). Far from complete: any other chip is
// recognised only once Windows installed a Wi-Fi driver for it.
bool IsKnownUsbWifi(uint16_t vendor_id, uint16_t product_id);

// The more restrictive of two pieces of evidence about one function:
// storage, then phones and cameras, then the ways out (network, wifi,
// bluetooth, serial, wireless), then printer, then the classes a My Number
// terminal needs (biometric, smart_card), then `other` (nothing specific
// known), then HID and hub. Not the order of a device's headline class
// among its functions (ClassifyUsbDevice), where an unknown vendor
// function outranks a card reader beside it.
DeviceClass MoreRestrictive(DeviceClass a, DeviceClass b);

}  // namespace mamori
