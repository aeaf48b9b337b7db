#include "agent/platform/windows/device/function_class.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mamori {
namespace {

DevNode Node(std::string id, std::vector<std::string> compatible, std::string setup_class = "",
             uint32_t if_type = 0) {
  DevNode n;
  n.instance_id = std::move(id);
  n.compatible_ids = std::move(compatible);
  n.driver.setup_class = std::move(setup_class);
  n.driver.if_type = if_type;
  return n;
}

std::vector<std::string> Triple(const std::string& cls, const std::string& sub,
                                const std::string& prot) {
  return {"USB\\Class_" + cls + "&SubClass_" + sub + "&Prot_" + prot,
          "USB\\Class_" + cls + "&SubClass_" + sub, "USB\\Class_" + cls};
}

TEST(SetupClassTest, Mapping) {
  EXPECT_EQ(ClassOfSetupClass(kNetSetupClass, 6), DeviceClass::kNetwork);
  EXPECT_EQ(ClassOfSetupClass(kNetSetupClass, 0), DeviceClass::kNetwork);
  EXPECT_EQ(ClassOfSetupClass(kNetSetupClass, 243), DeviceClass::kNetwork);  // LTE modem
  EXPECT_EQ(ClassOfSetupClass(kNetSetupClass, 71), DeviceClass::kWifi);
  EXPECT_EQ(ClassOfSetupClass("{4D36E972-E325-11CE-BFC1-08002BE10318}", 71), DeviceClass::kWifi);
  EXPECT_EQ(ClassOfSetupClass(kBluetoothSetupClass, 0), DeviceClass::kBluetooth);
  EXPECT_EQ(ClassOfSetupClass(kPortsSetupClass, 0), DeviceClass::kSerial);
  EXPECT_EQ(ClassOfSetupClass(kModemSetupClass, 0), DeviceClass::kSerial);
  EXPECT_EQ(ClassOfSetupClass(kSmartCardReaderSetupClass, 0), DeviceClass::kSmartCard);
  EXPECT_EQ(ClassOfSetupClass(kBiometricSetupClass, 0), DeviceClass::kBiometric);
  EXPECT_EQ(ClassOfSetupClass(kWpdSetupClass, 0), DeviceClass::kStillImage);
  EXPECT_EQ(ClassOfSetupClass(kImageSetupClass, 0), DeviceClass::kStillImage);
  EXPECT_EQ(ClassOfSetupClass(kPrinterSetupClass, 0), DeviceClass::kPrinter);
  // USB, HIDClass, Keyboard, Media: nothing for the rule engine.
  EXPECT_EQ(ClassOfSetupClass("{36fc9e60-c465-11cf-8056-444553540000}", 0), std::nullopt);
  EXPECT_EQ(ClassOfSetupClass("{745a17a0-74d3-11d0-b6fe-00a0c90f57da}", 0), std::nullopt);
  EXPECT_EQ(ClassOfSetupClass("", 0), std::nullopt);
  EXPECT_EQ(ClassOfSetupClass("{4d36e972-e325-11ce-bfc1-08002be10318}x", 71), std::nullopt);
}

TEST(ServiceTest, MicrosoftClassDriversOnly) {
  EXPECT_EQ(ClassOfService("usbser"), DeviceClass::kSerial);
  EXPECT_EQ(ClassOfService("UsbSer"), DeviceClass::kSerial);
  EXPECT_EQ(ClassOfService("rndismp6"), DeviceClass::kNetwork);
  EXPECT_EQ(ClassOfService("usb_rndisx"), DeviceClass::kNetwork);
  EXPECT_EQ(ClassOfService("BTHUSB"), DeviceClass::kBluetooth);
  EXPECT_EQ(ClassOfService("WUDFWpdMtp"), DeviceClass::kStillImage);
  EXPECT_EQ(ClassOfService("winusb"), std::nullopt);
  EXPECT_EQ(ClassOfService("kbdhid"), std::nullopt);
  EXPECT_EQ(ClassOfService(""), std::nullopt);
  EXPECT_EQ(ClassOfService(std::string(100000, 'u')), std::nullopt);
}

TEST(ClassOfUsbFunctionTest, UsbserUnderAVendorSetupClassIsSerial) {
  // A vendor INF installing Microsoft's CDC ACM driver under its own class.
  DevNode n = Node("USB\\VID_1234&PID_5678\\1", Triple("FF", "00", "00"),
                   "{12345678-1234-1234-1234-123456789abc}");
  n.driver.service = "usbser";
  EXPECT_EQ(ClassOfUsbFunction(n), DeviceClass::kSerial);
}

TEST(ClassOfUsbFunctionTest, HostileInputIsBoundedAndNeverCrashes) {
  DevNode n;
  n.instance_id = std::string(100000, '\\');
  for (int i = 0; i < 2000; ++i) n.compatible_ids.push_back(std::string(300, '&'));
  n.compatible_ids.push_back("USB\\MS_COMP_" + std::string(100000, 'M'));
  n.driver.setup_class = std::string(100000, '{');
  n.driver.service = std::string(100000, 'x');
  n.driver.if_type = 0xFFFFFFFFu;
  EXPECT_EQ(ClassOfUsbFunction(n), std::nullopt);
}

TEST(MsOsCompatibleIdTest, Mapping) {
  EXPECT_EQ(ClassOfMsOsCompatibleId("USB\\MS_COMP_MTP"), DeviceClass::kStillImage);
  EXPECT_EQ(ClassOfMsOsCompatibleId("USB\\MS_COMP_PTP"), DeviceClass::kStillImage);
  EXPECT_EQ(ClassOfMsOsCompatibleId("USB\\MS_COMP_RNDIS&MS_SUBCOMP_5162001"),
            DeviceClass::kNetwork);
  EXPECT_EQ(ClassOfMsOsCompatibleId("usb\\ms_comp_rndis"), DeviceClass::kNetwork);
  EXPECT_EQ(ClassOfMsOsCompatibleId("USB\\MS_COMP_WINNCM"), DeviceClass::kNetwork);
  EXPECT_EQ(ClassOfMsOsCompatibleId("USB\\MS_COMP_BLUTUTH&MS_SUBCOMP_EDR"),
            DeviceClass::kBluetooth);
  EXPECT_EQ(ClassOfMsOsCompatibleId("USB\\MS_COMP_WINUSB"), std::nullopt);
  EXPECT_EQ(ClassOfMsOsCompatibleId("USB\\MS_COMP_MTPX"), std::nullopt);
  EXPECT_EQ(ClassOfMsOsCompatibleId("USB\\Class_FF"), std::nullopt);
  EXPECT_EQ(ClassOfMsOsCompatibleId("USB\\MS_COMP_MTP" + std::string(300, 'A')), std::nullopt);
}

TEST(KnownWifiTest, ListedChipsOnly) {
  EXPECT_TRUE(IsKnownUsbWifi(0x2357, 0x010c));   // TP-Link TL-WN722N v2
  EXPECT_TRUE(IsKnownUsbWifi(0x0cf3, 0x9271));   // AR9271
  EXPECT_FALSE(IsKnownUsbWifi(0x0bda, 0x8153));  // RTL8153 Ethernet, same vendor
  EXPECT_FALSE(IsKnownUsbWifi(0x0781, 0x5581));
}

TEST(MoreRestrictiveTest, Order) {
  EXPECT_EQ(MoreRestrictive(DeviceClass::kSmartCard, DeviceClass::kNetwork), DeviceClass::kNetwork);
  EXPECT_EQ(MoreRestrictive(DeviceClass::kNetwork, DeviceClass::kMassStorage),
            DeviceClass::kMassStorage);
  EXPECT_EQ(MoreRestrictive(DeviceClass::kOther, DeviceClass::kBiometric), DeviceClass::kBiometric);
  EXPECT_EQ(MoreRestrictive(DeviceClass::kHid, DeviceClass::kOther), DeviceClass::kOther);
  EXPECT_EQ(MoreRestrictive(DeviceClass::kHid, DeviceClass::kSmartCard), DeviceClass::kSmartCard);
  EXPECT_EQ(MoreRestrictive(DeviceClass::kStillImage, DeviceClass::kBiometric),
            DeviceClass::kStillImage);
}

// Whole functions, with the ids Windows reports for real devices.
TEST(ClassOfUsbFunctionTest, AndroidMtpInterfaceIsStillImage) {
  // Pixel in "File transfer" mode: vendor-specific interface, MTP driver
  // chosen through the OS descriptor.
  const DevNode mtp = Node("USB\\VID_18D1&PID_4EE2&MI_00\\7&2a3b4c5d&0&0000",
                           {"USB\\MS_COMP_MTP", "USB\\Class_FF&SubClass_FF&Prot_00",
                            "USB\\Class_FF&SubClass_FF", "USB\\Class_FF"},
                           std::string(kWpdSetupClass));
  EXPECT_EQ(ClassOfUsbFunction(mtp), DeviceClass::kStillImage);
  // Before its driver is installed the OS descriptor already says so.
  DevNode bare = mtp;
  bare.driver = {};
  EXPECT_EQ(ClassOfUsbFunction(bare), DeviceClass::kStillImage);
}

TEST(ClassOfUsbFunctionTest, AndroidRndisTetheringIsNetwork) {
  const DevNode rndis = Node("USB\\VID_18D1&PID_4EE3&MI_00\\7&1f2e3d4c&0&0000",
                             Triple("E0", "01", "03"), std::string(kNetSetupClass), 6);
  EXPECT_EQ(ClassOfUsbFunction(rndis), DeviceClass::kNetwork);
  DevNode bare = rndis;
  bare.driver = {};
  EXPECT_EQ(ClassOfUsbFunction(bare), DeviceClass::kNetwork);
}

TEST(ClassOfUsbFunctionTest, RealtekUsbEthernetIsNetworkOnceItsDriverIsBound) {
  // RTL8153: vendor-specific configuration, Realtek's NDIS driver.
  const DevNode nic = Node("USB\\VID_0BDA&PID_8153\\000001000000", Triple("FF", "FF", "00"),
                           std::string(kNetSetupClass), 6);
  EXPECT_EQ(ClassOfUsbFunction(nic), DeviceClass::kNetwork);
  DevNode bare = nic;
  bare.driver = {};
  EXPECT_EQ(ClassOfUsbFunction(bare), DeviceClass::kOther);  // the stated limit
}

TEST(ClassOfUsbFunctionTest, WifiByIfTypeOrByList) {
  // Netgear A6210 (MT7612U), a driver with *IfType 71.
  const DevNode a6210 = Node("USB\\VID_0846&PID_9053\\123456789012", Triple("FF", "FF", "FF"),
                             std::string(kNetSetupClass), kIfTypeIeee80211);
  EXPECT_EQ(ClassOfUsbFunction(a6210), DeviceClass::kWifi);
  // TP-Link TL-WN722N v2 with no driver yet: by the list.
  const DevNode tplink = Node("USB\\VID_2357&PID_010C\\00E04C000001", Triple("FF", "FF", "FF"));
  EXPECT_EQ(ClassOfUsbFunction(tplink), DeviceClass::kWifi);
}

TEST(ClassOfUsbFunctionTest, BluetoothRadio) {
  // Intel AX201 Bluetooth.
  const DevNode bt = Node("USB\\VID_8087&PID_0026\\5&2c0f5b8e&0&10", Triple("E0", "01", "01"),
                          std::string(kBluetoothSetupClass));
  EXPECT_EQ(ClassOfUsbFunction(bt), DeviceClass::kBluetooth);
  // Broadcom BCM20702 is vendor-specific; its driver says Bluetooth.
  const DevNode bcm = Node("USB\\VID_0A5C&PID_21E8\\5CF3709B1234", Triple("FF", "01", "01"),
                           std::string(kBluetoothSetupClass));
  EXPECT_EQ(ClassOfUsbFunction(bcm), DeviceClass::kBluetooth);
}

TEST(ClassOfUsbFunctionTest, SmartCardReaders) {
  // SCM/Identiv SCR3310 (CCID), sold with My Number card software.
  const DevNode ccid = Node("USB\\VID_04E6&PID_5116\\21120823204587", Triple("0B", "00", "00"),
                            std::string(kSmartCardReaderSetupClass));
  EXPECT_EQ(ClassOfUsbFunction(ccid), DeviceClass::kSmartCard);
  // Sony RC-S380: vendor-specific, a smart card reader through Sony's driver.
  const DevNode pasori = Node("USB\\VID_054C&PID_06C3\\5&1e2d3c4b&0&3", Triple("FF", "00", "00"),
                              std::string(kSmartCardReaderSetupClass));
  EXPECT_EQ(ClassOfUsbFunction(pasori), DeviceClass::kSmartCard);
}

TEST(ClassOfUsbFunctionTest, FingerprintReaderByItsBiometricDriver) {
  // Synaptics fingerprint sensor 06CB:00BD, Windows Biometric Framework.
  const DevNode fp = Node("USB\\VID_06CB&PID_00BD\\8a9b0c1d2e3f", Triple("FF", "00", "00"),
                          std::string(kBiometricSetupClass));
  EXPECT_EQ(ClassOfUsbFunction(fp), DeviceClass::kBiometric);
}

TEST(ClassOfUsbFunctionTest, EvidenceOnlyTightens) {
  // Claims CCID, bound to a network driver: a network adapter.
  EXPECT_EQ(ClassOfUsbFunction(Node("USB\\VID_1234&PID_5678\\1", Triple("0B", "00", "00"),
                                    std::string(kNetSetupClass), 6)),
            DeviceClass::kNetwork);
  // Mass storage codes with a biometric driver: still storage.
  EXPECT_EQ(ClassOfUsbFunction(Node("USB\\VID_1234&PID_5678\\1", Triple("08", "06", "50"),
                                    std::string(kBiometricSetupClass))),
            DeviceClass::kMassStorage);
  // A smart card reader that also reports an MTP OS descriptor.
  EXPECT_EQ(ClassOfUsbFunction(Node("USB\\VID_1234&PID_5678\\1",
                                    {"USB\\MS_COMP_MTP", "USB\\Class_0B&SubClass_00&Prot_00"},
                                    std::string(kSmartCardReaderSetupClass))),
            DeviceClass::kStillImage);
  // A listed Wi-Fi id never loosens a class the device already has.
  EXPECT_EQ(ClassOfUsbFunction(Node("USB\\VID_2357&PID_010C\\1", Triple("08", "06", "50"))),
            DeviceClass::kMassStorage);
}

TEST(ClassOfUsbFunctionTest, SerialBridges) {
  // Arduino Uno: CDC ACM, usbser in the Ports class.
  EXPECT_EQ(ClassOfUsbFunction(Node("USB\\VID_2341&PID_0043\\85736323838351F0B1C1",
                                    Triple("02", "02", "01"), std::string(kPortsSetupClass))),
            DeviceClass::kSerial);
  // Silicon Labs CP2102: vendor-specific, silabser in the Ports class.
  EXPECT_EQ(ClassOfUsbFunction(Node("USB\\VID_10C4&PID_EA60\\0001", Triple("FF", "00", "00"),
                                    std::string(kPortsSetupClass))),
            DeviceClass::kSerial);
}

TEST(ClassOfUsbFunctionTest, OldWindowsWebcamInTheImageClassIsNotAPhone) {
  EXPECT_EQ(ClassOfUsbFunction(Node("USB\\VID_046D&PID_0825&MI_00\\6&1&0&0000",
                                    Triple("0E", "01", "00"), std::string(kImageSetupClass))),
            DeviceClass::kOther);
  // A scanner or camera in the Image class is.
  EXPECT_EQ(ClassOfUsbFunction(Node("USB\\VID_04A9&PID_1909\\1", Triple("FF", "FF", "FF"),
                                    std::string(kImageSetupClass))),
            DeviceClass::kStillImage);
}

TEST(ClassOfUsbFunctionTest, KeyboardStaysHid) {
  EXPECT_EQ(
      ClassOfUsbFunction(Node("USB\\VID_046D&PID_C31C&MI_00\\6&1&0&0000", Triple("03", "01", "01"),
                              "{4d36e96b-e325-11ce-bfc1-08002be10318}")),
      DeviceClass::kHid);
  EXPECT_EQ(ClassOfUsbFunction(Node("USB\\VID_046D&PID_C31C\\1", {})), std::nullopt);
}

}  // namespace
}  // namespace mamori
