#include "common/device/usb_class.h"

#include <gtest/gtest.h>

#include <vector>

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
  EXPECT_EQ(ClassifyUsbInterface(0xE0, 0x01, 0x01), DeviceClass::kWireless);  // Bluetooth
  EXPECT_EQ(ClassifyUsbInterface(0x03, 0x01, 0x01), DeviceClass::kHid);
  EXPECT_EQ(ClassifyUsbInterface(0x09, 0x00, 0x00), DeviceClass::kHub);
  EXPECT_EQ(ClassifyUsbInterface(0xFF, 0xFF, 0x00), DeviceClass::kOther);
  EXPECT_EQ(ClassifyUsbInterface(0x01, 0x01, 0x00), DeviceClass::kOther);  // audio
  EXPECT_EQ(ClassifyUsbInterface(0x0E, 0x01, 0x00), DeviceClass::kOther);  // video
  EXPECT_EQ(ClassifyUsbInterface(0x02, 0x06, 0x00), DeviceClass::kOther);  // CDC
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
  EXPECT_EQ(ClassifyUsbDevice(0xE0, 1, 1, {}), DeviceClass::kWireless);
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
}

}  // namespace
}  // namespace mamori
