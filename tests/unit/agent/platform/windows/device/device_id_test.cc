#include "agent/platform/windows/device/device_id.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mamori {
namespace {

TEST(SplitInstanceIdTest, UsbDevice) {
  const auto p = SplitInstanceId("USB\\VID_0781&PID_5581\\4C530001231120115142");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->enumerator, "USB");
  EXPECT_EQ(p->device, "VID_0781&PID_5581");
  EXPECT_EQ(p->instance, "4C530001231120115142");
}

TEST(SplitInstanceIdTest, EnumeratorIsUpperCased) {
  const auto p = SplitInstanceId("usbstor\\Disk&Ven_X&Prod_Y\\1&0");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->enumerator, "USBSTOR");
}

TEST(SplitInstanceIdTest, RejectsMalformed) {
  EXPECT_FALSE(SplitInstanceId(""));
  EXPECT_FALSE(SplitInstanceId("USB"));
  EXPECT_FALSE(SplitInstanceId("USB\\VID_0781&PID_5581"));  // a hardware id
  EXPECT_FALSE(SplitInstanceId("USB\\\\serial"));
  EXPECT_FALSE(SplitInstanceId("\\VID_0781&PID_5581\\x"));
  EXPECT_FALSE(SplitInstanceId("USB\\VID_0781&PID_5581\\"));
  EXPECT_FALSE(SplitInstanceId("USB\\a\\b\\c"));
}

TEST(SplitInstanceIdTest, RejectsOversizedIds) {
  const std::string huge = "USB\\VID_0781&PID_5581\\" + std::string(1 << 20, 'A');
  EXPECT_FALSE(SplitInstanceId(huge));
  const std::string limit = "USB\\VID_0781&PID_5581\\" + std::string(200 - 22, 'A');
  EXPECT_TRUE(SplitInstanceId(limit));
}

TEST(ParseUsbDevicePartTest, VidPid) {
  const auto p = ParseUsbDevicePart("VID_0781&PID_5581");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->vendor_id, 0x0781);
  EXPECT_EQ(p->product_id, 0x5581);
  EXPECT_FALSE(p->interface_number);
}

TEST(ParseUsbDevicePartTest, InterfaceChild) {
  const auto p = ParseUsbDevicePart("VID_046D&PID_C31C&MI_01");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->vendor_id, 0x046D);
  EXPECT_EQ(p->product_id, 0xC31C);
  ASSERT_TRUE(p->interface_number);
  EXPECT_EQ(*p->interface_number, 1);
}

TEST(ParseUsbDevicePartTest, HardwareIdWithRevisionAndLowerCase) {
  const auto p = ParseUsbDevicePart("vid_abcd&pid_ef01&rev_0100");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->vendor_id, 0xABCD);
  EXPECT_EQ(p->product_id, 0xEF01);
}

TEST(ParseUsbDevicePartTest, RejectsMalformed) {
  EXPECT_FALSE(ParseUsbDevicePart("ROOT_HUB30"));
  EXPECT_FALSE(ParseUsbDevicePart("VID_781&PID_5581"));
  EXPECT_FALSE(ParseUsbDevicePart("VID_0781&PID_55811"));
  EXPECT_FALSE(ParseUsbDevicePart("VID_078G&PID_5581"));
  EXPECT_FALSE(ParseUsbDevicePart("PID_5581&VID_0781"));
  EXPECT_FALSE(ParseUsbDevicePart("VID_0781&PID_5581&XX_00"));
  EXPECT_FALSE(ParseUsbDevicePart("VID_0781&PID_5581&MI_00&MI_01&MI_02"));
  EXPECT_FALSE(ParseUsbDevicePart("VID_0781"));
}

TEST(SerialTest, DeviceSerial) {
  EXPECT_EQ(SerialFromInstancePart("4C530001231120115142", false), "4C530001231120115142");
}

TEST(SerialTest, GeneratedInstanceIsNoSerial) {
  EXPECT_EQ(SerialFromInstancePart("5&2a3b4c5d&0&1", false), "");
  EXPECT_EQ(SerialFromInstancePart("7&1a2b3c4d&0&0000", false), "");
}

TEST(SerialTest, UsbStorStripsLun) {
  EXPECT_EQ(SerialFromInstancePart("4C530001231120115142&0", true), "4C530001231120115142");
  EXPECT_EQ(SerialFromInstancePart("7&1a2b3c4d&0", true), "");
  EXPECT_EQ(SerialFromInstancePart("4C53", true), "");    // no LUN: not a USBSTOR id
  EXPECT_EQ(SerialFromInstancePart("4C53&x", true), "");  // LUN not a number
}

TEST(ParseUsbStorTest, SanDisk) {
  const auto p = ParseUsbStorDevicePart("Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type, "Disk");
  EXPECT_EQ(p->vendor, "SanDisk");
  EXPECT_EQ(p->product, "Ultra");
  EXPECT_EQ(p->revision, "1.00");
}

TEST(ParseUsbStorTest, UnderscoresAreSpacesAndPaddingIsDropped) {
  const auto p = ParseUsbStorDevicePart("CdRom&Ven_HL-DT-ST&Prod_DVDRAM_GP57EB40__&Rev_PR01");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type, "CdRom");
  EXPECT_EQ(p->product, "DVDRAM GP57EB40");
}

TEST(ParseUsbStorTest, RejectsMalformed) {
  EXPECT_FALSE(ParseUsbStorDevicePart("Disk"));
  EXPECT_FALSE(ParseUsbStorDevicePart("&Ven_a&Prod_b"));
  EXPECT_FALSE(ParseUsbStorDevicePart("Disk&Prod_b&Ven_a"));
}

TEST(CompatibleIdTest, FullTriple) {
  const auto t = ParseUsbCompatibleId("USB\\Class_08&SubClass_06&Prot_50");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->cls, 0x08);
  EXPECT_EQ(t->subclass, 0x06);
  EXPECT_EQ(t->protocol, 0x50);
}

TEST(CompatibleIdTest, Partial) {
  const auto t = ParseUsbCompatibleId("USB\\Class_03");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->cls, 0x03);
  EXPECT_FALSE(ParseUsbCompatibleId("USB\\COMPOSITE"));
  EXPECT_FALSE(ParseUsbCompatibleId("USB\\DevClass_00&SubClass_00"));
  EXPECT_FALSE(ParseUsbCompatibleId("HID\\Class_03"));
  EXPECT_FALSE(ParseUsbCompatibleId("USB\\Class_8&SubClass_06"));
}

TEST(CompatibleIdTest, ClassFromList) {
  const std::vector<std::string> storage = {"USB\\Class_08&SubClass_06&Prot_50",
                                            "USB\\Class_08&SubClass_06", "USB\\Class_08"};
  EXPECT_EQ(ClassFromCompatibleIds(storage), DeviceClass::kMassStorage);
  const std::vector<std::string> optical = {"USB\\Class_08", "USB\\Class_08&SubClass_02"};
  EXPECT_EQ(ClassFromCompatibleIds(optical), DeviceClass::kOptical);
  const std::vector<std::string> hid = {"USB\\Class_03&SubClass_01&Prot_01"};
  EXPECT_EQ(ClassFromCompatibleIds(hid), DeviceClass::kHid);
  const std::vector<std::string> mtp = {"USB\\Class_06&SubClass_01&Prot_01"};
  EXPECT_EQ(ClassFromCompatibleIds(mtp), DeviceClass::kStillImage);
  const std::vector<std::string> none = {"USB\\COMPOSITE", "garbage"};
  EXPECT_FALSE(ClassFromCompatibleIds(none));
}

TEST(DeviceIdHostileTest, NeverCrashes) {
  const std::string huge(1 << 20, '&');
  EXPECT_FALSE(ParseUsbDevicePart(huge));
  EXPECT_FALSE(ParseUsbStorDevicePart(huge));
  EXPECT_FALSE(ParseUsbCompatibleId("USB\\" + huge));
  EXPECT_EQ(SerialFromInstancePart(huge, true), "");
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t cut = 0; cut <= bytes.size(); cut += 7) {
    const std::string s = "USB\\VID_0781&PID_5581\\" + bytes.substr(0, cut);
    (void)SplitInstanceId(s);
    (void)ParseUsbDevicePart(bytes.substr(cut));
    (void)ParseUsbStorDevicePart("Disk&Ven_" + bytes.substr(cut) + "&Prod_");
  }
}

}  // namespace
}  // namespace mamori
