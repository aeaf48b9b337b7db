#include "common/device/usb_class.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/device/usb_ids.h"

namespace mamori {
namespace {

TEST(UsbClassTest, MassStorage) {
  EXPECT_EQ(ClassifyUsbInterface(0x08, 0x06, 0x50), DeviceClass::kMassStorage);  // BBB
  EXPECT_EQ(ClassifyUsbInterface(0x08, 0x06, 0x62), DeviceClass::kMassStorage);  // UAS
  EXPECT_EQ(ClassifyUsbInterface(0x08, 0x04, 0x00), DeviceClass::kMassStorage);  // UFI floppy
  EXPECT_EQ(ClassifyUsbInterface(0x08, 0x05, 0x50), DeviceClass::kMassStorage);  // SFF-8070i
  EXPECT_EQ(ClassifyUsbInterface(0x08, 0x01, 0x50), DeviceClass::kMassStorage);  // RBC
  EXPECT_EQ(ClassifyUsbInterface(0x08, 0x02, 0x50), DeviceClass::kOptical);      // MMC-5
  EXPECT_EQ(ClassifyUsbInterface(0x08, 0xff, 0xff), DeviceClass::kMassStorage);
}

TEST(UsbClassTest, OtherClasses) {
  EXPECT_EQ(ClassifyUsbInterface(0x06, 0x01, 0x01), DeviceClass::kStillImage);  // PTP, QEMU MTP
  EXPECT_EQ(ClassifyUsbInterface(0x07, 0x01, 0x02), DeviceClass::kPrinter);
  EXPECT_EQ(ClassifyUsbInterface(0x03, 0x01, 0x01), DeviceClass::kHid);
  EXPECT_EQ(ClassifyUsbInterface(0x09, 0x00, 0x00), DeviceClass::kHub);
  EXPECT_EQ(ClassifyUsbInterface(0xFF, 0xFF, 0x00), DeviceClass::kOther);
  EXPECT_EQ(ClassifyUsbInterface(0x01, 0x01, 0x00), DeviceClass::kOther);  // audio
  EXPECT_EQ(ClassifyUsbInterface(0x0E, 0x01, 0x00), DeviceClass::kOther);  // video
  EXPECT_EQ(ClassifyUsbInterface(0x0D, 0x00, 0x00), DeviceClass::kOther);  // content security
}

// The ways off the terminal: tethering, Ethernet, modems and serial lines.
TEST(UsbClassTest, CdcNetworkingIsNetwork) {
  EXPECT_EQ(ClassifyUsbInterface(0x02, 0x06, 0x00), DeviceClass::kNetwork);  // ECM
  EXPECT_EQ(ClassifyUsbInterface(0x02, 0x0D, 0x00), DeviceClass::kNetwork);  // NCM
  EXPECT_EQ(ClassifyUsbInterface(0x02, 0x0C, 0x07), DeviceClass::kNetwork);  // EEM
  EXPECT_EQ(ClassifyUsbInterface(0x02, 0x0E, 0x00), DeviceClass::kNetwork);  // MBIM
  EXPECT_EQ(ClassifyUsbInterface(0x02, 0x0A, 0x00), DeviceClass::kNetwork);  // MDLM
  EXPECT_EQ(ClassifyUsbInterface(0x0A, 0x00, 0x00), DeviceClass::kNetwork);  // CDC data
}

TEST(UsbClassTest, EveryRndisFormIsNetwork) {
  EXPECT_EQ(ClassifyUsbInterface(0x02, 0x02, 0xFF), DeviceClass::kNetwork);  // Android tethering
  EXPECT_EQ(ClassifyUsbInterface(0xE0, 0x01, 0x03), DeviceClass::kNetwork);  // wireless-controller
  EXPECT_EQ(ClassifyUsbInterface(0xEF, 0x04, 0x01), DeviceClass::kNetwork);  // misc RNDIS
  EXPECT_EQ(ClassifyUsbInterface(0xEF, 0x04, 0x02), DeviceClass::kNetwork);  // RNDIS Wi-Fi
}

TEST(UsbClassTest, CdcAcmAndOtherLinesAreSerial) {
  for (uint8_t proto = 0x00; proto <= 0x06; ++proto) {
    EXPECT_EQ(ClassifyUsbInterface(0x02, 0x02, proto), DeviceClass::kSerial) << int{proto};
  }
  EXPECT_EQ(ClassifyUsbInterface(0x02, 0x01, 0x00), DeviceClass::kSerial);  // direct line
  EXPECT_EQ(ClassifyUsbInterface(0x02, 0x0B, 0x00), DeviceClass::kSerial);  // OBEX
}

TEST(UsbClassTest, BluetoothSmartCardAndWireless) {
  EXPECT_EQ(ClassifyUsbInterface(0xE0, 0x01, 0x01), DeviceClass::kBluetooth);
  EXPECT_EQ(ClassifyUsbInterface(0xE0, 0x01, 0x04), DeviceClass::kBluetooth);  // AMP
  EXPECT_EQ(ClassifyUsbInterface(0xE0, 0x02, 0x01), DeviceClass::kWireless);   // wire adapter
  EXPECT_EQ(ClassifyUsbInterface(0xE0, 0x01, 0x02), DeviceClass::kWireless);   // UWB radio
  EXPECT_EQ(ClassifyUsbInterface(0x0B, 0x00, 0x00), DeviceClass::kSmartCard);  // CCID
}

TEST(UsbClassTest, PhoneSynchronizationAndAdbAreStillImage) {
  EXPECT_EQ(ClassifyUsbInterface(0xEF, 0x01, 0x01), DeviceClass::kStillImage);  // ActiveSync
  EXPECT_EQ(ClassifyUsbInterface(0xFF, 0x42, 0x01), DeviceClass::kStillImage);  // adb
  EXPECT_EQ(ClassifyUsbInterface(0xFF, 0x42, 0x03), DeviceClass::kOther);       // fastboot
  EXPECT_EQ(ClassifyUsbInterface(0xEF, 0x02, 0x01), DeviceClass::kOther);       // IAD alone
}

TEST(UsbClassTest, OnlyVendorInterfacesNeedMoreThanTheirClass) {
  EXPECT_TRUE(UsbInterfaceNeedsMoreThanItsClass(0xFF));
  EXPECT_FALSE(UsbInterfaceNeedsMoreThanItsClass(0x03));
  EXPECT_FALSE(UsbInterfaceNeedsMoreThanItsClass(0x08));
  EXPECT_FALSE(UsbInterfaceNeedsMoreThanItsClass(0x02));
}

TEST(UsbClassTest, VendorInterfaceNamedMtpIsStillImage) {
  EXPECT_EQ(ClassifyUsbInterfaceNamed(0xFF, 0xFF, 0x00, "MTP"), DeviceClass::kStillImage);
  EXPECT_EQ(ClassifyUsbInterfaceNamed(0xFF, 0xFF, 0x00, " mtp\n"), DeviceClass::kStillImage);
  EXPECT_EQ(ClassifyUsbInterfaceNamed(0xFF, 0xFF, 0x00, "ADB Interface"), DeviceClass::kOther);
  // A name never makes an interface less restricted.
  EXPECT_EQ(ClassifyUsbInterfaceNamed(0x08, 0x06, 0x50, "HID"), DeviceClass::kMassStorage);
  EXPECT_EQ(ClassifyUsbInterfaceNamed(0x03, 0x01, 0x01, "MTP"), DeviceClass::kHid);
}

TEST(UsbClassTest, DeviceClassFromTheDeviceDescriptor) {
  const std::vector<DeviceClass> hub_if = {DeviceClass::kHub};
  EXPECT_EQ(ClassifyUsbDevice(0x09, 0, 0, hub_if), DeviceClass::kHub);
  EXPECT_EQ(ClassifyUsbDevice(0xE0, 1, 1, {}), DeviceClass::kBluetooth);
  // A CDC device names its function per interface.
  const std::vector<DeviceClass> ecm = {DeviceClass::kNetwork};
  EXPECT_EQ(ClassifyUsbDevice(0x02, 0, 0, ecm), DeviceClass::kNetwork);
  // A hub that also offers a network interface is a network device.
  const std::vector<DeviceClass> hub_net = {DeviceClass::kHub, DeviceClass::kNetwork};
  EXPECT_EQ(ClassifyUsbDevice(0x09, 0, 0, hub_net), DeviceClass::kNetwork);
  // A "hub" with a storage interface is storage.
  const std::vector<DeviceClass> sneaky = {DeviceClass::kHub, DeviceClass::kMassStorage};
  EXPECT_EQ(ClassifyUsbDevice(0x09, 0, 0, sneaky), DeviceClass::kMassStorage);
}

TEST(UsbClassTest, PerInterfaceDevicesTakeTheMostSensitiveInterface) {
  const std::vector<DeviceClass> keyboard = {DeviceClass::kHid};
  EXPECT_EQ(ClassifyUsbDevice(0x00, 0, 0, keyboard), DeviceClass::kHid);
  const std::vector<DeviceClass> composite = {DeviceClass::kHid, DeviceClass::kMassStorage};
  EXPECT_EQ(ClassifyUsbDevice(0x00, 0, 0, composite), DeviceClass::kMassStorage);
  const std::vector<DeviceClass> phone = {DeviceClass::kOther, DeviceClass::kStillImage};
  EXPECT_EQ(ClassifyUsbDevice(0xEF, 2, 1, phone), DeviceClass::kStillImage);
  const std::vector<DeviceClass> headset = {DeviceClass::kOther, DeviceClass::kHid};
  EXPECT_EQ(ClassifyUsbDevice(0x00, 0, 0, headset), DeviceClass::kOther);
  EXPECT_EQ(ClassifyUsbDevice(0x00, 0, 0, {}), DeviceClass::kUnspecified);
  EXPECT_EQ(ClassifyUsbDevice(0xFF, 0, 0, {}), DeviceClass::kOther);
  const std::vector<DeviceClass> keyboard_net = {DeviceClass::kHid, DeviceClass::kNetwork};
  EXPECT_EQ(ClassifyUsbDevice(0x00, 0, 0, keyboard_net), DeviceClass::kNetwork);
  const std::vector<DeviceClass> reader = {DeviceClass::kSmartCard, DeviceClass::kHid};
  EXPECT_EQ(ClassifyUsbDevice(0x00, 0, 0, reader), DeviceClass::kSmartCard);
  const std::vector<DeviceClass> tether = {DeviceClass::kStillImage, DeviceClass::kNetwork};
  EXPECT_EQ(ClassifyUsbDevice(0xEF, 2, 1, tether), DeviceClass::kStillImage);
}

TEST(UsbIdsTest, FingerprintVendorsAndCardReaders) {
  EXPECT_TRUE(IsFingerprintSensorVendor(0x27c6));   // Goodix
  EXPECT_TRUE(IsFingerprintSensorVendor(0x06cb));   // Synaptics
  EXPECT_TRUE(IsFingerprintSensorVendor(0x138a));   // Validity
  EXPECT_FALSE(IsFingerprintSensorVendor(0x0781));  // SanDisk
  EXPECT_TRUE(IsMemoryCardReader(0x05e3, 0x0743, ""));
  EXPECT_TRUE(IsMemoryCardReader(0x0bda, 0x0158, ""));
  EXPECT_TRUE(IsMemoryCardReader(0x1234, 0x5678, "USB3.0 Card Reader"));
  EXPECT_TRUE(IsMemoryCardReader(0x1234, 0x5678, "Mass Storage multi-card"));
  EXPECT_FALSE(IsMemoryCardReader(0x0781, 0x5581, "Ultra"));
  EXPECT_FALSE(IsMemoryCardReader(0x0781, 0x5581, ""));
}

}  // namespace
}  // namespace mamori
