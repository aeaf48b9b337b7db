// The ways off a My Number terminal, as the Linux backend sees them on a
// fixture sysfs tree, decided under the built-in default.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/platform/linux/sysfs_device_backend.h"
#include "agent/platform/linux/usb_driver_classes.h"
#include "common/policy/rule_engine.h"
#include "tests/unit/agent/platform/linux/linux_fixture.h"

namespace mamori {
namespace {

using namespace mamori::testing;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

// Lines as the kernel's modules.alias has them (depmod output), for the
// drivers the fixtures need and some that must be ignored.
constexpr std::string_view kModulesAlias =
    "# Aliases extracted from modules themselves.\n"
    "alias usb:v0BDAp8179d*dc*dsc*dp*icFFiscFFipFFin* rtl8xxxu\n"
    "alias usb:v0BDAp8153d*dc*dsc*dp*icFFiscFFip00in* r8152\n"
    "alias usb:v0B95p1790d*dc*dsc*dp*icFFiscFFip00in* ax88179_178a\n"
    "alias usb:v0403p6001d*dc*dsc*dp*ic*isc*ip*in* ftdi_sio\n"
    "alias usb:v*p*d*dc*dsc*dp*icE0isc01ip01in* btusb\n"
    "alias usb:v0A5Cp*d*dc*dsc*dp*icFFisc01ip01in* btusb\n"
    "alias usb:v0BDAp0129d*dc*dsc*dp*icFFiscFFipFFin* rtsx_usb\n"
    "alias usb:v1234p5678d*dc*dsc*dp*ic*isc*ip*in* some_camera_driver\n"
    "alias pci:v00008086d*sv*sd*bc*sc*i* e1000e\n"
    "alias usb:v27C6p*d*dc*dsc*dp*ic*isc*ip*in* not_a_fingerprint_driver\n";

UsbDriverClasses Drivers() {
  auto d = UsbDriverClasses::Parse(kModulesAlias);
  EXPECT_TRUE(d.ok());
  return d.ok() ? std::move(*d) : UsbDriverClasses();
}

// ---- modules.alias ------------------------------------------------------------

TEST(UsbDriverClassesTest, ModaliasIsFormattedAsTheKernelDoes) {
  EXPECT_EQ(UsbInterfaceModalias(0x0bda, 0x8153, 0x3100, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0),
            "usb:v0BDAp8153d3100dc00dsc00dp00icFFiscFFip00in00");
}

TEST(UsbDriverClassesTest, KeepsOnlyUsbAliasesOfListedModules) {
  const UsbDriverClasses d = Drivers();
  EXPECT_EQ(d.size(), 7u);  // not the camera, the PCI driver or the unknown 27c6 one
  auto m = d.Classify("usb:v0BDAp8179d0000dc00dsc00dp00icFFiscFFipFFin00");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->cls, DeviceClass::kWifi);
  EXPECT_EQ(m->module, "rtl8xxxu");
  m = d.Classify("usb:v0403p6001d0600dc00dsc00dp00icFFiscFFipFFin00");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->cls, DeviceClass::kSerial);
  // Class-based aliases match any vendor.
  m = d.Classify("usb:v0A12p0001d0100dcE0dsc01dp01icE0isc01ip01in00");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->cls, DeviceClass::kBluetooth);
  EXPECT_FALSE(d.Classify("usb:v1234p5678d0100dc00dsc00dp00icFFiscFFipFFin00").has_value());
  // r8152's alias wants protocol 00.
  EXPECT_FALSE(d.Classify("usb:v0BDAp8153d0100dc00dsc00dp00icFFiscFFip01in00").has_value());
}

TEST(UsbDriverClassesTest, ModuleNamesAreNormalizedAndBounded) {
  EXPECT_EQ(ClassOfUsbDriverModule("ftdi-sio"), DeviceClass::kSerial);
  EXPECT_EQ(ClassOfUsbDriverModule("usb-storage"), DeviceClass::kMassStorage);
  EXPECT_EQ(ClassOfUsbDriverModule("rtsx_usb"), DeviceClass::kCardReader);
  EXPECT_FALSE(ClassOfUsbDriverModule("snd_usb_audio").has_value());
  const std::string huge(UsbDriverClasses::kMaxFileBytes + 1, '#');
  EXPECT_FALSE(UsbDriverClasses::Parse(huge).ok());
  // Junk lines are skipped, not fatal.
  auto junk = UsbDriverClasses::Parse("alias\nalias usb:\nalias  usb:v*p*  \n\n\x01\xff\n");
  ASSERT_TRUE(junk.ok());
  EXPECT_EQ(junk->size(), 0u);
}

// ---- fixture devices under the built-in default ---------------------------------

struct Function {
  int number;
  std::string cls, sub, proto;
  std::string label;  // the interface string the kernel shows, if any
};

class DeviceClassesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_.AddRootHub(1);
    // As Start leaves them.
    tree_.WriteFile(FixtureTree::DevicePath("usb1").substr(0, 0) +
                        std::string(FixtureTree::kController) + "/usb1/authorized_default",
                    "0");
    tree_.WriteFile(std::string(FixtureTree::kController) + "/usb1/interface_authorized_default",
                    "0");
  }

  // A device at "1-2" whose interfaces the fixture creates, unauthorized,
  // when the device is authorized, as the kernel does under
  // interface_authorized_default=0.
  void Plug(const std::string& descriptors, const std::string& vid, const std::string& pid,
            std::vector<Function> functions, const std::string& product = "Thing",
            const std::string& device_class = "00") {
    FixtureTree::DeviceSpec spec;
    spec.descriptors = descriptors;
    spec.vid = vid;
    spec.pid = pid;
    spec.product = product;
    spec.device_class = device_class;
    tree_.AddDevice("1-2", spec);
    functions_ = std::move(functions);
  }

  SysfsDeviceBackend& Backend(bool audit_only = false) {
    auto sysfs = std::make_unique<RecordingSysfs>(tree_.root(), journal_);
    sysfs_ = sysfs.get();
    sysfs_->AfterWrite([this](std::string_view path, std::string_view value) {
      if (path == "/bus/usb/devices/1-2/authorized" && value == "1" && !configured_) {
        configured_ = true;
        for (const Function& f : functions_) {
          tree_.AddInterface("1-2", 1, f.number, f.cls, f.sub, f.proto, false, f.label);
        }
      }
    });
    backend_ = std::make_unique<SysfsDeviceBackend>(
        std::move(sysfs), std::make_unique<FakeUeventSource>(journal_),
        std::make_unique<FakeBlockGuard>(journal_), audit_only, Drivers());
    return *backend_;
  }

  // Enumerates, decides under the built-in default and applies.
  Decision Decide() {
    SysfsDeviceBackend& b = backend_ ? *backend_ : Backend();
    const std::vector<ObservedDevice> devices = b.Enumerate();
    EXPECT_EQ(devices.size(), 1u);
    if (devices.empty()) return {};
    observed_ = devices[0];
    const Decision d = Evaluate(BuiltinDefaultPolicy(), devices[0].identity, 0);
    const Status s = b.Apply(devices[0], d);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return d;
  }

  std::vector<std::string> Writes() { return journal_.writes(); }
  std::string Authorized(const std::string& path = "") {
    return std::string(
        TrimNewline(tree_.Read(FixtureTree::DevicePath("1-2") + path + "/authorized")));
  }

  FixtureTree tree_;
  Journal journal_;
  RecordingSysfs* sysfs_ = nullptr;
  std::unique_ptr<SysfsDeviceBackend> backend_;
  std::vector<Function> functions_;
  bool configured_ = false;
  ObservedDevice observed_;
};

constexpr const char* kDev = "/bus/usb/devices/1-2/authorized";

TEST_F(DeviceClassesTest, AndroidPhoneInMtpModeIsBlockedAsStorage) {
  // A Pixel in "File transfer" mode: MTP on a vendor-specific interface
  // named "MTP" (string 5), and adb.
  Plug(DeviceDescriptor(0, 0x18d1, 0x4ee2) +
           ConfigDescriptor(1, 2,
                            InterfaceDescriptor(0, 0, 0xff, 0xff, 0x00, 5) +
                                EndpointDescriptor(0x81) +
                                InterfaceDescriptor(1, 0, 0xff, 0x42, 0x01, 6)),
       "18d1", "4ee2", {{0, "ff", "ff", "00", "MTP"}, {1, "ff", "42", "01", "ADB Interface"}},
       "Pixel 7");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kStillImage);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default");
  // Configured alone to read the names, then de-authorized; no interface
  // was ever authorized and no driver probed.
  EXPECT_THAT(Writes(), ElementsAre(std::string(kDev) + "=1", std::string(kDev) + "=0"));
  EXPECT_EQ(Authorized(), "0");
  EXPECT_EQ(Authorized("/1-2:1.0"), "0");
}

TEST_F(DeviceClassesTest, ABlockedTwoStepDeviceIsNotConfiguredAgainOnTheNextLook) {
  Plug(DeviceDescriptor(0, 0x18d1, 0x4ee2) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0x00, 5)),
       "18d1", "4ee2", {{0, "ff", "ff", "00", "MTP"}});
  Decide();
  journal_.Clear();
  const auto again = backend_->Enumerate();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].identity.device_class, DeviceClass::kStillImage);
  EXPECT_THAT(Writes(), IsEmpty());
}

TEST_F(DeviceClassesTest, AnUnreadableInterfaceNameCountsAsMtp) {
  // String 5 announced, but the kernel could not read it (no `interface`).
  Plug(DeviceDescriptor(0, 0x1234, 0x0001) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0x00, 5)),
       "1234", "0001", {{0, "ff", "ff", "00", ""}});
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kStillImage);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(Authorized(), "0");
}

TEST_F(DeviceClassesTest, AuditOnlyNeverConfiguresADeviceToReadItsNames) {
  Plug(DeviceDescriptor(0, 0x18d1, 0x4ee2) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0x00, 5)),
       "18d1", "4ee2", {{0, "ff", "ff", "00", "MTP"}});
  const auto devices = Backend(/*audit_only=*/true).Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].identity.device_class, DeviceClass::kStillImage);
  EXPECT_THAT(Writes(), IsEmpty());
}

TEST_F(DeviceClassesTest, ADeviceGoneBeforeItsNamesAreReadIsARemoval) {
  Plug(DeviceDescriptor(0, 0x18d1, 0x4ee2) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0x00, 5)),
       "18d1", "4ee2", {{0, "ff", "ff", "00", "MTP"}});
  SysfsDeviceBackend& b = Backend();
  // Unplugged between the look and the two-step write.
  sysfs_->BeforeWrite([this](std::string_view path) {
    if (path == "/bus/usb/devices/1-2/authorized") {
      tree_.Remove("/bus/usb/devices/1-2");
      tree_.Remove(FixtureTree::DevicePath("1-2"));
    }
  });
  const auto devices = b.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  // Its name unknown, it counts as MTP; enforcing finds it gone.
  EXPECT_EQ(devices[0].identity.device_class, DeviceClass::kStillImage);
  const Status s = b.Apply(devices[0], Evaluate(BuiltinDefaultPolicy(), devices[0].identity, 0));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
}

TEST_F(DeviceClassesTest, NoTwoStepWhenTheRootHubWouldLetInterfacesBind) {
  tree_.WriteFile(std::string(FixtureTree::kController) + "/usb1/interface_authorized_default",
                  "1");
  Plug(DeviceDescriptor(0, 0x18d1, 0x4ee2) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0x00, 5)),
       "18d1", "4ee2", {{0, "ff", "ff", "00", "MTP"}});
  const Decision d = Decide();
  // The name cannot be read without letting drivers bind: treated as MTP.
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_THAT(Writes(), ElementsAre(std::string(kDev) + "=0"));
}

TEST_F(DeviceClassesTest, RndisTetheringIsBlockedAsNetwork) {
  // Android "USB tethering": RNDIS as a wireless controller plus CDC data.
  Plug(DeviceDescriptor(0xEF, 0x18d1, 0x4ee3) +
           ConfigDescriptor(1, 2,
                            InterfaceDescriptor(0, 0, 0xe0, 0x01, 0x03) +
                                InterfaceDescriptor(1, 0, 0x0a, 0x00, 0x00)),
       "18d1", "4ee3", {{0, "e0", "01", "03", ""}, {1, "0a", "00", "00", ""}}, "Pixel 7", "ef");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kNetwork);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default:network");
  // Class codes said enough: never configured.
  EXPECT_THAT(Writes(), ElementsAre(std::string(kDev) + "=0"));
}

TEST_F(DeviceClassesTest, NcmTetheringIsBlockedAsNetwork) {
  Plug(DeviceDescriptor(0x02, 0x05ac, 0x12a8) +
           ConfigDescriptor(1, 2,
                            InterfaceDescriptor(0, 0, 0x02, 0x0d, 0x00) +
                                InterfaceDescriptor(1, 1, 0x0a, 0x00, 0x01)),
       "05ac", "12a8", {}, "iPhone", "02");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kNetwork);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default:network");
}

TEST_F(DeviceClassesTest, BluetoothControllerIsBlocked) {
  Plug(DeviceDescriptor(0xE0, 0x8087, 0x0026) +
           ConfigDescriptor(1, 2,
                            InterfaceDescriptor(0, 0, 0xe0, 0x01, 0x01) +
                                InterfaceDescriptor(1, 0, 0xe0, 0x01, 0x01)),
       "8087", "0026", {}, "AX201 Bluetooth", "e0");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kBluetooth);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default:bluetooth");
}

TEST_F(DeviceClassesTest, VendorSpecificBluetoothIsFoundByItsDriver) {
  // Broadcom dongles present 0xFF/0x01/0x01; btusb lists the vendor.
  Plug(DeviceDescriptor(0xFF, 0x0a5c, 0x21e8) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0x01, 0x01)),
       "0a5c", "21e8", {{0, "ff", "01", "01", ""}}, "BCM20702A0", "ff");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kBluetooth);
  EXPECT_EQ(d.matched_rule, "default:bluetooth");
  EXPECT_EQ(Authorized(), "0");
}

TEST_F(DeviceClassesTest, UsbWifiAdapterIsFoundThroughModulesAlias) {
  // RTL8188EUS: every interface vendor-specific; rtl8xxxu would bind.
  Plug(DeviceDescriptor(0, 0x0bda, 0x8179) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0xff, 3)),
       "0bda", "8179", {{0, "ff", "ff", "ff", "802.11n NIC"}}, "802.11n NIC");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kWifi);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default:wifi");
  EXPECT_EQ(Authorized(), "0");
}

TEST_F(DeviceClassesTest, UsbEthernetAdapterIsFoundThroughModulesAlias) {
  // RTL8153 in its vendor configuration; r8152 would bind.
  Plug(DeviceDescriptor(0, 0x0bda, 0x8153) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0x00)),
       "0bda", "8153", {{0, "ff", "ff", "00", ""}}, "USB 10/100/1000 LAN");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kNetwork);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default:network");
}

TEST_F(DeviceClassesTest, UsbSerialBridgeIsBlocked) {
  Plug(DeviceDescriptor(0, 0x0403, 0x6001) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0xff, 2)),
       "0403", "6001", {{0, "ff", "ff", "ff", "FT232R USB UART"}}, "FT232R USB UART");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kSerial);
  EXPECT_EQ(d.matched_rule, "default:serial");
  EXPECT_EQ(Authorized(), "0");
}

TEST_F(DeviceClassesTest, FingerprintReaderStaysUsable) {
  // Goodix sensor: vendor-specific, no kernel driver (libfprint drives it).
  Plug(DeviceDescriptor(0xEF, 0x27c6, 0x5395) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0x00, 0x00)),
       "27c6", "5395", {{0, "ff", "00", "00", ""}}, "Goodix FingerPrint Device", "ef");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kBiometric);
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_EQ(d.matched_rule, "default:biometric");
  EXPECT_EQ(Authorized(), "1");
  EXPECT_EQ(Authorized("/1-2:1.0"), "1");
  EXPECT_THAT(Writes(), Contains("/bus/usb/drivers_probe=1-2:1.0"));
}

TEST_F(DeviceClassesTest, MyNumberCardReaderStaysUsable) {
  Plug(DeviceDescriptor(0, 0x04e6, 0x5116) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0x0b, 0x00, 0x00)),
       "04e6", "5116", {{0, "0b", "00", "00", ""}}, "SCR3310 USB Smart Card Reader");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kSmartCard);
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_EQ(d.matched_rule, "default:smart_card");
  // Class codes said enough: authorized once, by the decision.
  EXPECT_EQ(Writes().front(), std::string(kDev) + "=1");
  EXPECT_EQ(Authorized("/1-2:1.0"), "1");
}

TEST_F(DeviceClassesTest, KeyboardWithANetworkInterfaceKeepsOnlyTheKeyboard) {
  Plug(DeviceDescriptor(0, 0x1234, 0x4321) +
           ConfigDescriptor(1, 3,
                            InterfaceDescriptor(0, 0, 0x03, 0x01, 0x01) +
                                InterfaceDescriptor(1, 0, 0x02, 0x06, 0x00) +
                                InterfaceDescriptor(2, 0, 0x0a, 0x00, 0x00)),
       "1234", "4321",
       {{0, "03", "01", "01", ""}, {1, "02", "06", "00", ""}, {2, "0a", "00", "00", ""}},
       "Keyboard");
  const Decision d = Decide();
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default:network");
  EXPECT_EQ(d.allowed_interface_classes, std::vector<DeviceClass>{DeviceClass::kHid});
  EXPECT_EQ(Authorized(), "1");
  EXPECT_EQ(Authorized("/1-2:1.0"), "1");
  EXPECT_EQ(Authorized("/1-2:1.1"), "0");
  EXPECT_EQ(Authorized("/1-2:1.2"), "0");
  EXPECT_THAT(Writes(), Contains("/bus/usb/drivers_probe=1-2:1.0"));
  EXPECT_THAT(Writes(), Not(Contains("/bus/usb/drivers_probe=1-2:1.1")));
}

TEST_F(DeviceClassesTest, SdCardReaderIsACardReader) {
  Plug(DeviceDescriptor(0, 0x05e3, 0x0743) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0x08, 0x06, 0x50)),
       "05e3", "0743", {}, "USB Storage");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kCardReader);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default");
}

TEST_F(DeviceClassesTest, RealtekVendorCardReaderIsFoundByItsDriver) {
  Plug(DeviceDescriptor(0, 0x0bda, 0x0129) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0xff)),
       "0bda", "0129", {{0, "ff", "ff", "ff", ""}}, "USB2.0-CRW");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kCardReader);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(Authorized(), "0");
}

TEST_F(DeviceClassesTest, AnUnknownVendorDeviceIsOtherAndFollowsTheOtherDefault) {
  Plug(DeviceDescriptor(0, 0x1234, 0x9999) +
           ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0x00, 0x00)),
       "1234", "9999", {{0, "ff", "00", "00", ""}}, "Label printer");
  const Decision d = Decide();
  EXPECT_EQ(observed_.identity.device_class, DeviceClass::kOther);
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_EQ(d.matched_rule, "default");
}

}  // namespace
}  // namespace mamori
