#include "common/policy/rule_engine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/policy/policy.h"
#include "common/policy/policy_parser.h"

namespace mamori {
namespace {

// 2026-11-22T00:00:00Z.
constexpr int64_t kNow = 1795305600000;

DeviceIdentity Stick(std::string serial = "SERIAL-1") {
  DeviceIdentity d;
  d.vendor_id = 0x0781;
  d.product_id = 0x5581;
  d.serial = std::move(serial);
  d.manufacturer = "SanDisk";
  d.product = "Ultra";
  d.bus_path = "1-2";
  d.device_class = DeviceClass::kUnspecified;
  d.interface_classes = {DeviceClass::kMassStorage};
  d.descriptor_hash = std::string(64, 'a');
  return d;
}

DeviceIdentity Keyboard() {
  DeviceIdentity d;
  d.vendor_id = 0x046d;
  d.product_id = 0xc31c;
  d.device_class = DeviceClass::kUnspecified;
  d.interface_classes = {DeviceClass::kHid, DeviceClass::kHid};
  return d;
}

DeviceIdentity OfClass(DeviceClass c) {
  DeviceIdentity d;
  d.vendor_id = 0x1234;
  d.product_id = 0x5678;
  d.device_class = c;
  return d;
}

Rule MakeRule(std::string name, DeviceMatch match, Action action) {
  Rule r;
  r.name = std::move(name);
  r.match = std::move(match);
  r.action = action;
  return r;
}

Policy PolicyWith(std::vector<Rule> rules) {
  Policy p;
  p.name = "test";
  p.rules = std::move(rules);
  return p;
}

TEST(RuleEngineTest, FirstMatchWins) {
  DeviceMatch by_vendor;
  by_vendor.vendor_id = 0x0781;
  DeviceMatch by_class;
  by_class.classes = {DeviceClass::kMassStorage};

  const Policy allow_first = PolicyWith({MakeRule("vendor", by_vendor, Action::kAllow),
                                         MakeRule("storage", by_class, Action::kBlock)});
  const Decision d1 = Evaluate(allow_first, Stick(), kNow);
  EXPECT_EQ(d1.action, Action::kAllow);
  EXPECT_EQ(d1.matched_rule, "vendor");
  EXPECT_FALSE(d1.enforced);

  const Policy block_first = PolicyWith({MakeRule("storage", by_class, Action::kBlock),
                                         MakeRule("vendor", by_vendor, Action::kAllow)});
  const Decision d2 = Evaluate(block_first, Stick(), kNow);
  EXPECT_EQ(d2.action, Action::kBlock);
  EXPECT_EQ(d2.matched_rule, "storage");
}

TEST(RuleEngineTest, AllSetConditionsMustHold) {
  DeviceMatch m;
  m.vendor_id = 0x0781;
  m.product_id = 0x5581;
  m.serials = {"OTHER", "SERIAL-1"};
  m.classes = {DeviceClass::kMassStorage};
  m.manufacturer = "SanDisk";
  m.product = "Ultra";
  m.bus_path = "1-2";
  m.descriptor_hash = std::string(64, 'a');
  const Policy p = PolicyWith({MakeRule("all", m, Action::kReadOnly)});
  EXPECT_EQ(Evaluate(p, Stick(), kNow).matched_rule, "all");

  // Each condition on its own can veto the match.
  auto expect_no_match = [&](const DeviceIdentity& d, const char* what) {
    const Decision dec = Evaluate(p, d, kNow);
    EXPECT_EQ(dec.matched_rule, kDefaultRuleName) << what;
    EXPECT_EQ(dec.action, Action::kBlock) << what;
  };
  DeviceIdentity d = Stick();
  d.vendor_id = 0x0782;
  expect_no_match(d, "vendor");
  d = Stick();
  d.product_id = 0x5582;
  expect_no_match(d, "product id");
  expect_no_match(Stick("SERIAL-2"), "serial");
  d = Stick();
  d.interface_classes = {DeviceClass::kCardReader};
  expect_no_match(d, "class");
  d = Stick();
  d.manufacturer = "sandisk";  // exact, case matters
  expect_no_match(d, "manufacturer");
  d = Stick();
  d.product = "Ultra ";
  expect_no_match(d, "product");
  d = Stick();
  d.bus_path = "1-2.1";
  expect_no_match(d, "bus path");
  d = Stick();
  d.descriptor_hash = std::string(64, 'b');
  expect_no_match(d, "descriptor hash");
}

TEST(RuleEngineTest, DescriptorHashIsCaseInsensitive) {
  DeviceMatch m;
  m.descriptor_hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  const Policy p = PolicyWith({MakeRule("hash", m, Action::kAllow)});
  DeviceIdentity d = Stick();
  d.descriptor_hash = "00112233445566778899AABBCCDDEEFF00112233445566778899AaBbCcDdEeFf";
  EXPECT_EQ(Evaluate(p, d, kNow).matched_rule, "hash");
  d.descriptor_hash.pop_back();
  EXPECT_EQ(Evaluate(p, d, kNow).matched_rule, kDefaultRuleName);
}

TEST(RuleEngineTest, ClassMatchesDeviceOrAnyInterface) {
  DeviceMatch m;
  m.classes = {DeviceClass::kWireless, DeviceClass::kStillImage};
  const Policy p = PolicyWith({MakeRule("radio-or-camera", m, Action::kBlock)});
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kWireless), kNow).matched_rule, "radio-or-camera");
  DeviceIdentity phone = OfClass(DeviceClass::kUnspecified);
  phone.interface_classes = {DeviceClass::kHid, DeviceClass::kStillImage};
  EXPECT_EQ(Evaluate(p, phone, kNow).matched_rule, "radio-or-camera");
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kPrinter), kNow).matched_rule, kDefaultRuleName);
}

TEST(RuleEngineTest, BuiltinDefaultClosesTheWaysOut) {
  const Policy p = BuiltinDefaultPolicy();
  for (DeviceClass c : {DeviceClass::kNetwork, DeviceClass::kSerial, DeviceClass::kBluetooth,
                        DeviceClass::kWifi, DeviceClass::kWireless}) {
    const Decision d = Evaluate(p, OfClass(c), kNow);
    EXPECT_EQ(d.action, Action::kBlock) << DeviceClassName(c);
    EXPECT_EQ(d.matched_rule, "default:" + std::string(DeviceClassName(c)));
  }
  for (DeviceClass c : {DeviceClass::kSmartCard, DeviceClass::kBiometric}) {
    const Decision d = Evaluate(p, OfClass(c), kNow);
    EXPECT_EQ(d.action, Action::kAllow) << DeviceClassName(c);
    EXPECT_EQ(d.matched_rule, "default:" + std::string(DeviceClassName(c)));
  }
  // Printers, audio and unknown vendor devices follow defaults.other.
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kPrinter), kNow).action, Action::kAllow);
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kPrinter), kNow).matched_rule, "default");
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kOther), kNow).action, Action::kAllow);
  // MTP phones are storage.
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kStillImage), kNow).action, Action::kBlock);
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kStillImage), kNow).matched_rule, "default");
}

TEST(RuleEngineTest, TheStrictestClassOfADeviceDecidesAndIsNamed) {
  const Policy p = BuiltinDefaultPolicy();
  // A headset that also tethers: audio (other, allowed) and network.
  DeviceIdentity headset = OfClass(DeviceClass::kNetwork);
  headset.interface_classes = {DeviceClass::kOther, DeviceClass::kNetwork};
  Decision d = Evaluate(p, headset, kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default:network");
  // A smart-card reader with a vendor interface under `other: block`.
  Policy strict = p;
  strict.default_other_action = Action::kBlock;
  DeviceIdentity reader = OfClass(DeviceClass::kOther);
  reader.interface_classes = {DeviceClass::kSmartCard, DeviceClass::kOther};
  d = Evaluate(strict, reader, kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default");
  EXPECT_EQ(d.allowed_interface_classes, std::vector<DeviceClass>{DeviceClass::kSmartCard});
}

TEST(RuleEngineTest, KeyboardWithANetworkInterfaceKeepsOnlyTheKeyboard) {
  DeviceIdentity kb = OfClass(DeviceClass::kNetwork);
  kb.interface_classes = {DeviceClass::kHid, DeviceClass::kNetwork};
  const Decision d = Evaluate(BuiltinDefaultPolicy(), kb, kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default:network");
  EXPECT_EQ(d.allowed_interface_classes, std::vector<DeviceClass>{DeviceClass::kHid});
}

TEST(RuleEngineTest, ARuleStillAllowsABlockedClass) {
  DeviceMatch m;
  m.classes = {DeviceClass::kBluetooth};
  const Policy p = [&] {
    Policy q = PolicyWith({MakeRule("bt-ok", m, Action::kAllow)});
    q.class_defaults = MyNumberClassDefaults();
    return q;
  }();
  const Decision d = Evaluate(p, OfClass(DeviceClass::kBluetooth), kNow);
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_EQ(d.matched_rule, "bt-ok");
}

TEST(RuleEngineTest, DefaultRuleNames) {
  EXPECT_EQ(DefaultRuleNameFor(DeviceClass::kWifi), "default:wifi");
  EXPECT_TRUE(IsDefaultRuleName("default"));
  EXPECT_TRUE(IsDefaultRuleName("default:network"));
  EXPECT_FALSE(IsDefaultRuleName("default-ish"));
  EXPECT_FALSE(IsDefaultRuleName("default:"));
  EXPECT_FALSE(IsDefaultRuleName("registered"));
}

class RegisteredMediaTest : public ::testing::Test {
 protected:
  RegisteredMediaTest() {
    DeviceMatch m;
    m.registered_media = true;
    policy_ = PolicyWith({MakeRule("registered", m, Action::kAllow)});
    RegisteredMedium medium;
    medium.serial = "SERIAL-1";
    medium.vendor_id = 0x0781;
    medium.product_id = 0x5581;
    medium.expires_ms = kExpires;
    policy_.registered_media.push_back(medium);
    RegisteredMedium forever;
    forever.serial = "FOREVER";
    forever.vendor_id = 0x0781;
    forever.product_id = 0x5581;
    policy_.registered_media.push_back(forever);
  }

  // Last millisecond of 2026-11-30 UTC.
  static constexpr int64_t kExpires = 1796083200000 - 1;
  Policy policy_;
};

TEST_F(RegisteredMediaTest, ValidThroughTheLastMillisecond) {
  EXPECT_EQ(Evaluate(policy_, Stick(), kNow).action, Action::kAllow);
  EXPECT_EQ(Evaluate(policy_, Stick(), kExpires).action, Action::kAllow);
  const Decision expired = Evaluate(policy_, Stick(), kExpires + 1);
  EXPECT_EQ(expired.action, Action::kBlock);
  EXPECT_EQ(expired.matched_rule, kDefaultRuleName);
}

TEST_F(RegisteredMediaTest, ZeroExpiryNeverExpires) {
  const int64_t year_3000 = 32503680000000;
  EXPECT_EQ(Evaluate(policy_, Stick("FOREVER"), year_3000).matched_rule, "registered");
}

TEST_F(RegisteredMediaTest, SerialAndVidPidMustAllMatch) {
  EXPECT_EQ(Evaluate(policy_, Stick("SERIAL-2"), kNow).action, Action::kBlock);
  DeviceIdentity same_serial_other_model = Stick();
  same_serial_other_model.product_id = 0x5591;
  EXPECT_EQ(Evaluate(policy_, same_serial_other_model, kNow).action, Action::kBlock);
  DeviceIdentity same_serial_other_vendor = Stick();
  same_serial_other_vendor.vendor_id = 0x0951;
  EXPECT_EQ(Evaluate(policy_, same_serial_other_vendor, kNow).action, Action::kBlock);
  // A device without a serial never matches a ledger entry.
  EXPECT_EQ(Evaluate(policy_, Stick(""), kNow).action, Action::kBlock);
}

TEST_F(RegisteredMediaTest, LedgerMatchesThePerInterfaceCopies) {
  // The ledger keeps the storage interface of a registered composite device
  // that another rule blocks as a whole.
  DeviceMatch wireless;
  wireless.classes = {DeviceClass::kWireless};
  policy_.rules.insert(policy_.rules.begin(), MakeRule("no-radio", wireless, Action::kBlock));
  DeviceIdentity d = Stick();
  d.interface_classes = {DeviceClass::kWireless, DeviceClass::kMassStorage};
  const Decision registered = Evaluate(policy_, d, kNow);
  EXPECT_EQ(registered.action, Action::kBlock);
  EXPECT_EQ(registered.matched_rule, "no-radio");
  EXPECT_EQ(registered.allowed_interface_classes,
            std::vector<DeviceClass>{DeviceClass::kMassStorage});

  d.serial = "NOT-IN-LEDGER";
  EXPECT_TRUE(Evaluate(policy_, d, kNow).allowed_interface_classes.empty());
  d.serial = "SERIAL-1";
  EXPECT_TRUE(Evaluate(policy_, d, kExpires + 1).allowed_interface_classes.empty());
}

TEST(RuleEngineTest, CompositeHidAndStorageGetsTheStorageDefault) {
  // A "keyboard" that also offers a mass-storage interface is storage.
  Policy p = PolicyWith({});
  p.default_other_action = Action::kAllow;
  DeviceIdentity combo = OfClass(DeviceClass::kUnspecified);
  combo.interface_classes = {DeviceClass::kHid, DeviceClass::kMassStorage};
  const Decision d = Evaluate(p, combo, kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default");

  DeviceIdentity hid_class_with_storage = OfClass(DeviceClass::kHid);
  hid_class_with_storage.interface_classes = {DeviceClass::kMassStorage};
  EXPECT_EQ(Evaluate(p, hid_class_with_storage, kNow).action, Action::kBlock);

  p.default_storage_action = Action::kReadOnly;
  EXPECT_EQ(Evaluate(p, combo, kNow).action, Action::kReadOnly);
}

// A keyboard (class 0, classes per interface) that also offers storage.
DeviceIdentity KeyboardWithStorage() {
  DeviceIdentity d = Keyboard();
  d.serial = "KB-1";
  d.interface_classes = {DeviceClass::kHid, DeviceClass::kMassStorage, DeviceClass::kHid};
  return d;
}

using Classes = std::vector<DeviceClass>;

TEST(RuleEngineTest, BlockedCompositeKeepsOnlyItsAllowedInterfaces) {
  const Decision d = Evaluate(BuiltinDefaultPolicy(), KeyboardWithStorage(), kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default");
  EXPECT_EQ(d.allowed_interface_classes, Classes{DeviceClass::kHid});
  EXPECT_FALSE(d.enforced);
}

TEST(RuleEngineTest, StorageClassRuleStillKeepsTheKeyboardInterface) {
  DeviceMatch storage;
  storage.classes = {DeviceClass::kMassStorage};
  const Policy p = PolicyWith({MakeRule("no-storage", storage, Action::kBlock)});
  const Decision d = Evaluate(p, KeyboardWithStorage(), kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "no-storage");  // the whole device's rule, not a copy's
  EXPECT_EQ(d.allowed_interface_classes, Classes{DeviceClass::kHid});
}

TEST(RuleEngineTest, RuleOnTheDeviceItselfLeavesNoInterfaceUsable) {
  // vid:pid and serial are kept by every per-interface copy.
  DeviceMatch by_id;
  by_id.vendor_id = 0x046d;
  by_id.product_id = 0xc31c;
  const Decision d1 = Evaluate(PolicyWith({MakeRule("bad-usb", by_id, Action::kBlock)}),
                               KeyboardWithStorage(), kNow);
  EXPECT_EQ(d1.action, Action::kBlock);
  EXPECT_EQ(d1.matched_rule, "bad-usb");
  EXPECT_TRUE(d1.allowed_interface_classes.empty());

  DeviceMatch by_serial;
  by_serial.serials = {"KB-1"};
  Policy p = PolicyWith({MakeRule("by-serial", by_serial, Action::kBlock)});
  p.default_storage_action = Action::kAllow;  // would keep the storage if the rule missed
  EXPECT_TRUE(Evaluate(p, KeyboardWithStorage(), kNow).allowed_interface_classes.empty());
}

TEST(RuleEngineTest, ExplicitHidBlockRuleKeepsNoHidInterface) {
  DeviceMatch hid;
  hid.classes = {DeviceClass::kHid};
  Policy p = PolicyWith({MakeRule("no-hid", hid, Action::kBlock)});
  const Decision d = Evaluate(p, KeyboardWithStorage(), kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "no-hid");
  EXPECT_TRUE(d.allowed_interface_classes.empty());

  // Each class is judged by the same policy: with storage allowed by
  // default, only the storage interface stays usable.
  p.default_storage_action = Action::kAllow;
  EXPECT_EQ(Evaluate(p, KeyboardWithStorage(), kNow).allowed_interface_classes,
            Classes{DeviceClass::kMassStorage});
}

TEST(RuleEngineTest, SingleClassDeviceHasNoAllowedInterfaces) {
  const Policy p = BuiltinDefaultPolicy();
  const Decision stick = Evaluate(p, Stick(), kNow);
  EXPECT_EQ(stick.action, Action::kBlock);
  EXPECT_TRUE(stick.allowed_interface_classes.empty());

  // Several interfaces of one class are still one class.
  DeviceIdentity two_luns = Stick();
  two_luns.interface_classes = {DeviceClass::kMassStorage, DeviceClass::kMassStorage};
  EXPECT_TRUE(Evaluate(p, two_luns, kNow).allowed_interface_classes.empty());

  // A storage-class device whose one interface is HID is not split either.
  DeviceIdentity odd = OfClass(DeviceClass::kMassStorage);
  odd.interface_classes = {DeviceClass::kHid};
  const Decision d = Evaluate(p, odd, kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_TRUE(d.allowed_interface_classes.empty());
}

TEST(RuleEngineTest, OnlyABlockIsSplitByInterface) {
  Policy read_only = PolicyWith({});
  read_only.default_storage_action = Action::kReadOnly;
  const Decision ro = Evaluate(read_only, KeyboardWithStorage(), kNow);
  EXPECT_EQ(ro.action, Action::kReadOnly);
  EXPECT_TRUE(ro.allowed_interface_classes.empty());

  DeviceMatch by_vendor;
  by_vendor.vendor_id = 0x046d;
  const Decision allow = Evaluate(PolicyWith({MakeRule("trusted", by_vendor, Action::kAllow)}),
                                  KeyboardWithStorage(), kNow);
  EXPECT_EQ(allow.action, Action::kAllow);
  EXPECT_TRUE(allow.allowed_interface_classes.empty());

  // A read_only verdict for one class does not keep that interface.
  DeviceMatch wireless;
  wireless.classes = {DeviceClass::kWireless};
  Policy p = PolicyWith({MakeRule("no-radio", wireless, Action::kBlock)});
  p.default_storage_action = Action::kReadOnly;
  DeviceIdentity radio_disk = OfClass(DeviceClass::kUnspecified);
  radio_disk.interface_classes = {DeviceClass::kWireless, DeviceClass::kMassStorage,
                                  DeviceClass::kHid};
  EXPECT_EQ(Evaluate(p, radio_disk, kNow).allowed_interface_classes, Classes{DeviceClass::kHid});
}

TEST(RuleEngineTest, AllowedInterfaceClassesAreSortedUniqueAndFollowDefaults) {
  DeviceIdentity d = OfClass(DeviceClass::kUnspecified);
  d.interface_classes = {DeviceClass::kOther,       DeviceClass::kHid, DeviceClass::kPrinter,
                         DeviceClass::kMassStorage, DeviceClass::kHid, DeviceClass::kOther};
  Policy p = PolicyWith({});
  p.default_other_action = Action::kAllow;
  EXPECT_EQ(Evaluate(p, d, kNow).allowed_interface_classes,
            (Classes{DeviceClass::kPrinter, DeviceClass::kHid, DeviceClass::kOther}));
  // defaults.other applies per interface; HID stays usable regardless.
  p.default_other_action = Action::kBlock;
  EXPECT_EQ(Evaluate(p, d, kNow).allowed_interface_classes, Classes{DeviceClass::kHid});
}

TEST(RuleEngineTest, UnspecifiedInterfaceClassIsNeverKept) {
  Policy p = PolicyWith({});
  p.default_other_action = Action::kAllow;
  DeviceIdentity d = OfClass(DeviceClass::kUnspecified);
  d.interface_classes = {DeviceClass::kUnspecified, DeviceClass::kMassStorage};
  const Decision one = Evaluate(p, d, kNow);
  EXPECT_EQ(one.action, Action::kBlock);
  EXPECT_TRUE(one.allowed_interface_classes.empty());
  d.interface_classes.push_back(DeviceClass::kHid);
  EXPECT_EQ(Evaluate(p, d, kNow).allowed_interface_classes, Classes{DeviceClass::kHid});
}

TEST(RuleEngineTest, InterfaceIsJudgedByItsOwnClassNotTheDeviceClass) {
  // A Bluetooth dongle (device class wireless) with a HID interface: the
  // wireless rule blocks the device, the HID interface on its own is allowed.
  DeviceMatch wireless;
  wireless.classes = {DeviceClass::kWireless};
  const Policy p = PolicyWith({MakeRule("no-radio", wireless, Action::kBlock)});
  DeviceIdentity dongle = OfClass(DeviceClass::kWireless);
  dongle.interface_classes = {DeviceClass::kWireless, DeviceClass::kHid};
  const Decision d = Evaluate(p, dongle, kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "no-radio");
  EXPECT_EQ(d.allowed_interface_classes, Classes{DeviceClass::kHid});
}

TEST(RuleEngineTest, HidAndHubsAreAllowedWhateverDefaultsOtherSays) {
  Policy p = PolicyWith({});
  p.default_other_action = Action::kBlock;
  for (DeviceClass c : {DeviceClass::kHid, DeviceClass::kHub}) {
    const Decision d = Evaluate(p, OfClass(c), kNow);
    EXPECT_EQ(d.action, Action::kAllow) << DeviceClassName(c);
    EXPECT_EQ(d.matched_rule, "default");
  }
  // Keyboards usually declare HID per interface, not per device.
  EXPECT_EQ(Evaluate(p, Keyboard(), kNow).action, Action::kAllow);
  // Anything else falls to defaults.other.
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kPrinter), kNow).action, Action::kBlock);
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kUnspecified), kNow).action, Action::kBlock);
  DeviceIdentity dongle = OfClass(DeviceClass::kUnspecified);
  dongle.interface_classes = {DeviceClass::kHid, DeviceClass::kWireless};
  EXPECT_EQ(Evaluate(p, dongle, kNow).action, Action::kBlock);

  p.default_other_action = Action::kAllow;
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kPrinter), kNow).action, Action::kAllow);
}

TEST(RuleEngineTest, ARuleCanStillBlockAHid) {
  DeviceMatch m;
  m.vendor_id = 0x046d;
  m.product_id = 0xc31c;
  const Policy p = PolicyWith({MakeRule("rubber-ducky", m, Action::kBlock)});
  const Decision d = Evaluate(p, Keyboard(), kNow);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "rubber-ducky");
}

TEST(RuleEngineTest, BuiltinDefaultBlocksStorageAndKeepsKeyboards) {
  const Policy p = BuiltinDefaultPolicy();
  const Decision stick = Evaluate(p, Stick(), kNow);
  EXPECT_EQ(stick.action, Action::kBlock);
  EXPECT_EQ(stick.matched_rule, "default");
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kOptical), kNow).action, Action::kBlock);
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kCardReader), kNow).action, Action::kBlock);
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kStillImage), kNow).action, Action::kBlock);
  EXPECT_EQ(Evaluate(p, Keyboard(), kNow).action, Action::kAllow);
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kPrinter), kNow).action, Action::kAllow);
}

std::string ReadExample(std::string_view name) {
  const auto root = std::filesystem::path(MAMORI_SOURCE_DIR);
  std::ifstream in(root / "examples" / "policies" / name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RuleEngineTest, StrictExamplePolicy) {
  const auto parsed = ParsePolicy(ReadExample("strict.yaml"), "strict.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const Policy& p = *parsed;

  DeviceIdentity camera = OfClass(DeviceClass::kUnspecified);
  camera.interface_classes = {DeviceClass::kStillImage};
  EXPECT_EQ(Evaluate(p, camera, kNow).matched_rule, "block-cameras-and-phones");
  EXPECT_EQ(Evaluate(p, OfClass(DeviceClass::kWireless), kNow).matched_rule, "block-wireless");

  DeviceIdentity registered = Stick("4C530001231120115142");
  const Decision ro = Evaluate(p, registered, kNow);
  EXPECT_EQ(ro.action, Action::kReadOnly);
  EXPECT_EQ(ro.matched_rule, "registered-media-read-only");
  // The ledger entry runs out at the end of 2027-03-31 UTC.
  EXPECT_EQ(Evaluate(p, registered, 1806537600000).action, Action::kBlock);

  const Decision unknown = Evaluate(p, Stick("NOT-IN-LEDGER"), kNow);
  EXPECT_EQ(unknown.action, Action::kBlock);
  EXPECT_EQ(unknown.matched_rule, "default");
  EXPECT_EQ(Evaluate(p, Keyboard(), kNow).action, Action::kAllow);
}

TEST(RuleEngineTest, DefaultExamplePolicy) {
  const auto parsed = ParsePolicy(ReadExample("default.yaml"), "default.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  DeviceIdentity kingston = Stick("AA00000000012345");
  kingston.vendor_id = 0x0951;
  kingston.product_id = 0x1666;
  EXPECT_EQ(Evaluate(*parsed, kingston, kNow).action, Action::kAllow);
  EXPECT_EQ(Evaluate(*parsed, Stick(), kNow).action, Action::kBlock);
}

DeviceException ExceptionFor(std::string id, std::string terminal, int64_t from, int64_t until) {
  DeviceException e;
  e.id = std::move(id);
  e.terminal_id = std::move(terminal);
  e.vendor_id = 0x0781;
  e.product_id = 0x5581;
  e.serial = "SERIAL-1";
  e.not_before_ms = from;
  e.not_after_ms = until;
  return e;
}

TEST(ActiveExceptionTest, MatchesTheNamedDeviceOnItsTerminalInsideItsWindowOnly) {
  const std::vector<DeviceException> ex = {ExceptionFor("EX-1", "t-1", kNow - 1000, kNow + 1000)};
  ASSERT_NE(ActiveException(ex, "t-1", Stick(), kNow), nullptr);
  EXPECT_EQ(ActiveException(ex, "t-1", Stick(), kNow)->id, "EX-1");
  EXPECT_EQ(ActiveException(ex, "t-2", Stick(), kNow), nullptr) << "another terminal";
  EXPECT_EQ(ActiveException(ex, "t-1", Stick("SERIAL-2"), kNow), nullptr) << "another serial";
  DeviceIdentity other_product = Stick();
  other_product.product_id = 0x5582;
  EXPECT_EQ(ActiveException(ex, "t-1", other_product, kNow), nullptr) << "another vid:pid";
  EXPECT_EQ(ActiveException(ex, "t-1", Stick(), kNow - 1001), nullptr) << "before the window";
  EXPECT_NE(ActiveException(ex, "t-1", Stick(), kNow - 1000), nullptr) << "start is inclusive";
  EXPECT_EQ(ActiveException(ex, "t-1", Stick(), kNow + 1000), nullptr) << "end is exclusive";
}

TEST(ActiveExceptionTest, EmptyTerminalMeansEveryTerminalAndTheLatestEndWins) {
  const std::vector<DeviceException> ex = {ExceptionFor("EX-1", "", kNow - 10, kNow + 10),
                                           ExceptionFor("EX-2", "t-9", kNow - 10, kNow + 50),
                                           ExceptionFor("EX-3", "", kNow - 10, kNow + 20)};
  EXPECT_EQ(ActiveException(ex, "t-1", Stick(), kNow)->id, "EX-3");
  EXPECT_EQ(ActiveException(ex, "t-9", Stick(), kNow)->id, "EX-2");
}

TEST(ActiveExceptionTest, ADeviceWithoutSerialNeverMatches) {
  DeviceException e = ExceptionFor("EX-1", "", kNow - 10, kNow + 10);
  e.serial = "";
  EXPECT_EQ(ActiveException({e}, "t-1", Stick(""), kNow), nullptr);
}

}  // namespace
}  // namespace mamori
