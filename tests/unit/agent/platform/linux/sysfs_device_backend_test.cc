#include "agent/platform/linux/sysfs_device_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "agent/platform/linux/usb_descriptors.h"
#include "tests/unit/agent/platform/linux/linux_fixture.h"

namespace mamori {
namespace {

using namespace mamori::testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Counts on_change calls and lets a test wait for them.
class ChangeCounter {
 public:
  std::function<void()> Callback() {
    return [this] {
      {
        std::lock_guard lock(mu_);
        ++count_;
      }
      cv_.notify_all();
    };
  }
  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }
  bool WaitFor(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return count_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

class SysfsBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_.AddRootHub(1);
    tree_.AddRootHub(2);
  }

  // Builds the backend over the fixture tree (after the test shaped it).
  SysfsDeviceBackend& Backend(bool audit_only = false) {
    auto sysfs = std::make_unique<RecordingSysfs>(tree_.root(), journal_);
    auto source = std::make_unique<FakeUeventSource>(journal_);
    auto guard = std::make_unique<FakeBlockGuard>(journal_);
    sysfs_ = sysfs.get();
    source_ = source.get();
    guard_ = guard.get();
    backend_ = std::make_unique<SysfsDeviceBackend>(std::move(sysfs), std::move(source),
                                                    std::move(guard), audit_only);
    return *backend_;
  }

  ObservedDevice Find(const std::vector<ObservedDevice>& devices, const std::string& id) {
    for (const ObservedDevice& d : devices) {
      if (d.device_id == id) return d;
    }
    ADD_FAILURE() << "no device " << id;
    return {};
  }

  static Decision Decide(Action action, std::vector<DeviceClass> allowed = {}) {
    Decision d;
    d.action = action;
    d.matched_rule = "test";
    d.allowed_interface_classes = std::move(allowed);
    return d;
  }

  void AddStick(const std::string& name, bool authorized = false) {
    FixtureTree::DeviceSpec spec;
    spec.descriptors = StickDescriptors();
    spec.vid = "0781";
    spec.pid = "5581";
    spec.authorized = authorized;
    tree_.AddDevice(name, spec);
  }

  std::vector<std::string> Writes() { return journal_.writes(); }

  FixtureTree tree_;
  Journal journal_;
  RecordingSysfs* sysfs_ = nullptr;
  FakeUeventSource* source_ = nullptr;
  FakeBlockGuard* guard_ = nullptr;
  std::unique_ptr<SysfsDeviceBackend> backend_;
};

// ---- names and order ----------------------------------------------------------

TEST(UsbNamesTest, DevicesRootHubsAndInterfaces) {
  EXPECT_TRUE(IsUsbDeviceName("1-2"));
  EXPECT_TRUE(IsUsbDeviceName("3-1.4.2"));
  EXPECT_FALSE(IsUsbDeviceName("usb1"));
  EXPECT_FALSE(IsUsbDeviceName("1-2:1.0"));
  EXPECT_FALSE(IsUsbDeviceName("1-"));
  EXPECT_FALSE(IsUsbDeviceName("1-2..3"));
  EXPECT_FALSE(IsUsbDeviceName("../1-2"));
  EXPECT_FALSE(IsUsbDeviceName(""));
  EXPECT_TRUE(IsRootHubName("usb1"));
  EXPECT_TRUE(IsRootHubName("usb12"));
  EXPECT_FALSE(IsRootHubName("usb"));
  EXPECT_FALSE(IsRootHubName("usb1x"));
}

TEST(UsbNamesTest, ParentsFirstComparesPortsAsNumbers) {
  std::vector<std::string> names = {"2-1", "1-10", "1-2.1.3", "1-2", "1-2.1", "1-2.10", "1-2.2"};
  std::sort(names.begin(), names.end(), UsbNameParentsFirst);
  EXPECT_THAT(names, ElementsAre("1-2", "1-2.1", "1-2.1.3", "1-2.2", "1-2.10", "1-10", "2-1"));
}

// ---- Start: fail closed -------------------------------------------------------

TEST_F(SysfsBackendTest, StartOpensTheSocketThenLocksEveryRootHub) {
  SysfsDeviceBackend& b = Backend();
  ASSERT_TRUE(b.Start([] {}).ok());
  const auto entries = journal_.entries();
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries.front(), "open uevent socket");
  EXPECT_THAT(Writes(), ElementsAre("/bus/usb/devices/usb1/authorized_default=0",
                                    "/bus/usb/devices/usb1/interface_authorized_default=0",
                                    "/bus/usb/devices/usb2/authorized_default=0",
                                    "/bus/usb/devices/usb2/interface_authorized_default=0"));
  EXPECT_EQ(tree_.Read("/bus/usb/devices/usb1/authorized_default"), "0");
  EXPECT_EQ(tree_.Read("/bus/usb/devices/usb2/interface_authorized_default"), "0");
  b.Stop();
}

TEST_F(SysfsBackendTest, StartFailsWhenARootHubCannotBeLocked) {
  SysfsDeviceBackend& b = Backend();
  sysfs_->FailWrites("/bus/usb/devices/usb2/authorized_default");
  Status s = b.Start([] {});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("usb2"));
  EXPECT_THAT(s.error().message, HasSubstr("authorized_default"));
  EXPECT_FALSE(source_->is_open());
}

TEST_F(SysfsBackendTest, StartFailsWhenTheKernelIgnoresTheWrite) {
  SysfsDeviceBackend& b = Backend();
  sysfs_->IgnoreWrites("/bus/usb/devices/usb1/authorized_default");
  Status s = b.Start([] {});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("reads 1"));
}

TEST_F(SysfsBackendTest, StopNeverReauthorizes) {
  AddStick("1-2");
  SysfsDeviceBackend& b = Backend();
  ASSERT_TRUE(b.Start([] {}).ok());
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(Find(devices, "1-2"), Decide(Action::kBlock)).ok());
  journal_.Clear();
  b.Stop();
  EXPECT_THAT(Writes(), IsEmpty());
  EXPECT_EQ(tree_.Read("/bus/usb/devices/usb1/authorized_default"), "0");
}

// ---- audit-only ----------------------------------------------------------------

TEST_F(SysfsBackendTest, AuditOnlyWritesNothingAtAll) {
  AddStick("1-2", /*authorized=*/true);
  tree_.AddInterface("1-2", 1, 0, "08", "06", "50", true);
  SysfsDeviceBackend& b = Backend(/*audit_only=*/true);
  ASSERT_TRUE(b.Start([] {}).ok());
  auto devices = b.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_TRUE(b.Apply(devices[0], Decide(Action::kBlock)).ok());
  EXPECT_TRUE(b.Apply(devices[0], Decide(Action::kReadOnly)).ok());
  source_->PushMessages(
      {KernelUevent("add", std::string(FixtureTree::kController) + "/usb3", "usb", "usb_device")});
  ASSERT_TRUE(source_->WaitIdle());
  b.Stop();
  EXPECT_THAT(Writes(), IsEmpty());
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "1\n");
}

// ---- Enumerate ------------------------------------------------------------------

TEST_F(SysfsBackendTest, EnumeratesUsbDevicesParentsFirst) {
  FixtureTree::DeviceSpec hub;
  hub.descriptors = DeviceDescriptor(0x09, 0x05e3, 0x0610);
  hub.device_class = "09";
  hub.authorized = true;
  tree_.AddDevice("1-2", hub);
  tree_.AddInterface("1-2", 1, 0, "09", "00", "00", true);
  tree_.AddDevice("1-2.1", hub);
  AddStick("1-2.1.3");
  AddStick("1-10");
  AddStick("2-1");
  SysfsDeviceBackend& b = Backend();
  std::vector<std::string> ids;
  for (const ObservedDevice& d : b.Enumerate()) ids.push_back(d.device_id);
  EXPECT_THAT(ids, ElementsAre("1-2", "1-2.1", "1-2.1.3", "1-10", "2-1"));
}

TEST_F(SysfsBackendTest, IdentityComesFromSysfsAndTheDescriptors) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors = CompositeDescriptors();
  spec.vid = "1234";
  spec.pid = "5678";
  spec.serial = "ABC123";
  spec.manufacturer = "ACME";
  spec.product = "Keyboard+Disk";
  tree_.AddDevice("1-3", spec);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  const DeviceIdentity& id = devices[0].identity;
  EXPECT_EQ(devices[0].device_id, "1-3");
  EXPECT_EQ(id.bus_path, "1-3");
  EXPECT_EQ(id.vendor_id, 0x1234);
  EXPECT_EQ(id.product_id, 0x5678);
  EXPECT_EQ(id.serial, "ABC123");
  EXPECT_EQ(id.manufacturer, "ACME");
  EXPECT_EQ(id.product, "Keyboard+Disk");
  // Unauthorized: no interface directories, the descriptors tell.
  EXPECT_EQ(id.device_class, DeviceClass::kMassStorage);
  EXPECT_THAT(id.interface_classes, ElementsAre(DeviceClass::kHid, DeviceClass::kMassStorage));
  EXPECT_EQ(id.descriptor_hash, DescriptorHash(CompositeDescriptors()));
}

TEST_F(SysfsBackendTest, HostileStringsAreKeptRawAndBounded) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors = StickDescriptors();
  spec.serial = std::string("<script>alert(1)</script>\x01\x1b[31m") + "\xff\xfe";
  spec.product = std::string(100000, 'A');
  spec.manufacturer = "";
  tree_.AddDevice("1-4", spec);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].identity.serial, spec.serial);
  EXPECT_EQ(devices[0].identity.product.size(), kMaxSysfsAttributeBytes);
  EXPECT_EQ(devices[0].identity.manufacturer, "");
}

TEST_F(SysfsBackendTest, BrokenDescriptorsDoNotBreakEnumeration) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors = "\x12\x01garbage";
  spec.device_class = "08";
  tree_.AddDevice("1-5", spec);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].identity.device_class, DeviceClass::kMassStorage);
  EXPECT_FALSE(devices[0].identity.descriptor_hash.empty());
  // The kernel accepted what our parser rejects: not identified.
  EXPECT_THAT(devices[0].unidentified, HasSubstr("descriptors rejected"));
}

// ---- identity of a plug-in, and devices that cannot be identified ---------------

TEST_F(SysfsBackendTest, AWellReadDeviceIsIdentifiedWithItsDeviceNumber) {
  AddStick("1-2");
  auto devices = Backend().Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].instance, "5");
  EXPECT_EQ(devices[0].unidentified, "");
}

TEST_F(SysfsBackendTest, UnreadableDescriptorsLeaveTheDeviceUnidentified) {
  AddStick("1-2");
  const std::string dev = FixtureTree::DevicePath("1-2");
  tree_.Remove(dev + "/descriptors");
  // A directory in its place: the read fails with EISDIR, the device stays.
  std::filesystem::create_directory(tree_.root() + dev + "/descriptors");
  auto devices = Backend().Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_THAT(devices[0].unidentified, HasSubstr("descriptors unreadable"));
}

TEST_F(SysfsBackendTest, AHalfRemovedDeviceIsUnidentifiedNotDecidedAsOther) {
  // Read mid-removal: the directory is still there, its attributes are
  // going. Once read as "46f4:0000 serial '' unspecified".
  FixtureTree::DeviceSpec spec;
  spec.descriptors = StickDescriptors();
  spec.vid = "46f4";
  spec.pid = "0001";
  tree_.AddDevice("1-2", spec);
  const std::string dev = FixtureTree::DevicePath("1-2");
  for (const char* attr : {"/idProduct", "/serial", "/product", "/descriptors"}) {
    tree_.Remove(dev + attr);
  }
  auto devices = Backend().Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_FALSE(devices[0].unidentified.empty());

  // With the descriptors still readable, the missing idProduct is named.
  tree_.WriteFile(dev + "/descriptors", StickDescriptors());
  devices = backend_->Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_THAT(devices[0].unidentified, HasSubstr("idVendor/idProduct unreadable"));

  // Gone altogether: not a device at all.
  tree_.Remove(dev);
  EXPECT_THAT(backend_->Enumerate(), IsEmpty());
}

TEST_F(SysfsBackendTest, IdsThatDisagreeWithTheDescriptorsAreUnidentified) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors = StickDescriptors();  // 0781:5581
  spec.vid = "0781";
  spec.pid = "0000";
  tree_.AddDevice("1-2", spec);
  auto devices = Backend().Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_THAT(devices[0].unidentified, HasSubstr("0781:0000"));
  EXPECT_THAT(devices[0].unidentified, HasSubstr("0781:5581"));
}

// ---- Apply --------------------------------------------------------------------------

TEST_F(SysfsBackendTest, BlockDeauthorizesEvenAPreviouslyAuthorizedDevice) {
  AddStick("1-2", /*authorized=*/true);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(devices[0], Decide(Action::kBlock)).ok());
  EXPECT_THAT(Writes(), ElementsAre("/bus/usb/devices/1-2/authorized=0"));
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "0");
}

TEST_F(SysfsBackendTest, AllowAuthorizesTheDeviceAndEveryInterfaceThenProbes) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors = KeyboardDescriptors();
  tree_.AddDevice("1-2", spec);
  // What the kernel creates after authorization with
  // interface_authorized_default=0.
  tree_.AddInterface("1-2", 1, 0, "03", "01", "01", false);
  tree_.AddInterface("1-2", 1, 1, "03", "00", "00", false);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(devices[0], Decide(Action::kAllow)).ok());
  EXPECT_THAT(
      Writes(),
      ElementsAre("/bus/usb/devices/1-2/authorized=1", "/bus/usb/devices/1-2/1-2:1.0/authorized=1",
                  "/bus/usb/devices/1-2/1-2:1.1/authorized=1", "/bus/usb/drivers_probe=1-2:1.0",
                  "/bus/usb/drivers_probe=1-2:1.1"));
}

TEST_F(SysfsBackendTest, AllowDoesNotReprobeAuthorizedInterfaces) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors = KeyboardDescriptors();
  spec.authorized = true;
  tree_.AddDevice("1-2", spec);
  tree_.AddInterface("1-2", 1, 0, "03", "01", "01", true);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(devices[0], Decide(Action::kAllow)).ok());
  EXPECT_THAT(Writes(), ElementsAre("/bus/usb/devices/1-2/authorized=1"));
}

TEST_F(SysfsBackendTest, CompositeKeepsTheKeyboardAndBlocksTheStorage) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors = CompositeDescriptors();
  tree_.AddDevice("1-3", spec);
  tree_.AddInterface("1-3", 1, 0, "03", "01", "01", false);
  tree_.AddInterface("1-3", 1, 1, "08", "06", "50", true);  // as if authorized by default
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(devices[0], Decide(Action::kBlock, {DeviceClass::kHid})).ok());
  EXPECT_THAT(
      Writes(),
      ElementsAre("/bus/usb/devices/1-3/authorized=1", "/bus/usb/devices/1-3/1-3:1.0/authorized=1",
                  "/bus/usb/devices/1-3/1-3:1.1/authorized=0", "/bus/usb/drivers_probe=1-3:1.0"));
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-3/1-3:1.1/authorized"), "0");
}

TEST_F(SysfsBackendTest, CompositeBlocksAnInterfaceWithAForbiddenAlternateSetting) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors =
      DeviceDescriptor(0, 1, 2) +
      ConfigDescriptor(
          1, 1, InterfaceDescriptor(0, 0, 0x03, 1, 1) + InterfaceDescriptor(0, 1, 0x08, 6, 0x50));
  tree_.AddDevice("1-3", spec);
  tree_.AddInterface("1-3", 1, 0, "03", "01", "01", false);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(devices[0], Decide(Action::kBlock, {DeviceClass::kHid})).ok());
  EXPECT_THAT(Writes(), ElementsAre("/bus/usb/devices/1-3/authorized=1",
                                    "/bus/usb/devices/1-3/1-3:1.0/authorized=0"));
}

// Every alternate setting must be allowed, not only the most sensitive:
// here the policy allows network but not the audio setting.
TEST_F(SysfsBackendTest, CompositeChecksEveryAlternateSettingNotOnlyTheMostSensitive) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors =
      DeviceDescriptor(0, 1, 2) + ConfigDescriptor(1, 2,
                                                   InterfaceDescriptor(0, 0, 0x03, 1, 1) +
                                                       InterfaceDescriptor(1, 0, 0x02, 0x06, 0x00) +
                                                       InterfaceDescriptor(1, 1, 0x01, 0x01, 0x00));
  tree_.AddDevice("1-3", spec);
  tree_.AddInterface("1-3", 1, 0, "03", "01", "01", false);
  tree_.AddInterface("1-3", 1, 1, "02", "06", "00", false);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_TRUE(
      b.Apply(devices[0], Decide(Action::kBlock, {DeviceClass::kHid, DeviceClass::kNetwork})).ok());
  EXPECT_THAT(
      Writes(),
      ElementsAre("/bus/usb/devices/1-3/authorized=1", "/bus/usb/devices/1-3/1-3:1.0/authorized=1",
                  "/bus/usb/devices/1-3/1-3:1.1/authorized=0", "/bus/usb/drivers_probe=1-3:1.0"));
}

TEST_F(SysfsBackendTest, CompositeTreatsAnMtpNamedVendorInterfaceAsStillImage) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors = DeviceDescriptor(0, 1, 2) +
                     ConfigDescriptor(1, 1, InterfaceDescriptor(0, 0, 0xff, 0xff, 0x00));
  tree_.AddDevice("1-3", spec);
  tree_.AddInterface("1-3", 1, 0, "ff", "ff", "00", false, "MTP");
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(devices[0], Decide(Action::kBlock, {DeviceClass::kOther})).ok());
  EXPECT_THAT(Writes(), ElementsAre("/bus/usb/devices/1-3/authorized=1",
                                    "/bus/usb/devices/1-3/1-3:1.0/authorized=0"));
}

TEST_F(SysfsBackendTest, AWriteFailureIsAnEnforcementError) {
  AddStick("1-2", /*authorized=*/true);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  sysfs_->FailWrites("/bus/usb/devices/1-2/authorized");
  Status s = b.Apply(devices[0], Decide(Action::kBlock));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("/bus/usb/devices/1-2/authorized"));
}

TEST_F(SysfsBackendTest, AnInterfaceWriteFailureIsAnEnforcementError) {
  FixtureTree::DeviceSpec spec;
  spec.descriptors = CompositeDescriptors();
  tree_.AddDevice("1-3", spec);
  tree_.AddInterface("1-3", 1, 0, "03", "01", "01", false);
  tree_.AddInterface("1-3", 1, 1, "08", "06", "50", true);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  sysfs_->FailWrites("/bus/usb/devices/1-3/1-3:1.1/authorized");
  Status s = b.Apply(devices[0], Decide(Action::kBlock, {DeviceClass::kHid}));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("1-3:1.1"));
}

TEST_F(SysfsBackendTest, AnIgnoredWriteIsCaughtByReadingBack) {
  AddStick("1-2", /*authorized=*/true);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  sysfs_->IgnoreWrites("/bus/usb/devices/1-2/authorized");
  Status s = b.Apply(devices[0], Decide(Action::kBlock));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("reads 1"));
}

TEST_F(SysfsBackendTest, DeviceUnpluggedDuringApplyIsReportedGoneNotFailed) {
  AddStick("1-2");
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  // The stick leaves between the agent's look and its write, and the
  // kernel refuses the write to the departing device (ENODEV).
  sysfs_->FailWrites("/bus/usb/devices/1-2/authorized");
  sysfs_->BeforeWrite([this](std::string_view path) {
    if (path.starts_with("/bus/usb/devices/1-2")) tree_.Remove("/bus/usb/devices/1-2");
  });
  Status s = b.Apply(devices[0], Decide(Action::kAllow));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound) << s.error().message;
  EXPECT_THAT(s.error().message, HasSubstr("no longer present")) << s.error().message;
}

TEST_F(SysfsBackendTest, AWriteThatFailsWhileTheDeviceIsReplacedIsARemovalNotAFailure) {
  AddStick("1-2");
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  // A quick replug: the kernel's authorization of the departing stick times
  // out while the new one already sits at the same port with a new number.
  sysfs_->FailWrites("/bus/usb/devices/1-2/authorized");
  sysfs_->BeforeWrite([this](std::string_view path) {
    if (path == "/bus/usb/devices/1-2/authorized") {
      tree_.WriteFile(FixtureTree::DevicePath("1-2") + "/devnum", "6\n");
    }
  });
  Status s = b.Apply(devices[0], Decide(Action::kAllow));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound) << s.error().message;
  EXPECT_THAT(s.error().message, HasSubstr("replaced (device number 5, now 6)"));
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "0\n");
}

TEST_F(SysfsBackendTest, ADeviceReplacedSinceTheLookIsNotGivenTheOldDecision) {
  AddStick("1-2");
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  // Unplugged and another (or the same) stick plugged in at the same port:
  // the kernel gave it a new device number.
  tree_.WriteFile(FixtureTree::DevicePath("1-2") + "/devnum", "6\n");
  Status s = b.Apply(devices[0], Decide(Action::kAllow));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(s.error().message, HasSubstr("replaced (device number 5, now 6)"));
  EXPECT_THAT(Writes(), IsEmpty());
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "0\n");
}

TEST_F(SysfsBackendTest, ADeviceReplacedDuringApplyIsDeauthorizedAgain) {
  AddStick("1-2");
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  bool replaced = false;
  sysfs_->BeforeWrite([&](std::string_view path) {
    if (!replaced && path == "/bus/usb/devices/1-2/authorized") {
      replaced = true;
      tree_.WriteFile(FixtureTree::DevicePath("1-2") + "/devnum", "6\n");
    }
  });
  Status s = b.Apply(devices[0], Decide(Action::kAllow));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound) << s.error().message;
  // The newcomer was authorized by a write meant for its predecessor: it
  // is undone until the newcomer is decided.
  EXPECT_EQ(Writes().back(), "/bus/usb/devices/1-2/authorized=0");
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "0");
}

TEST_F(SysfsBackendTest, AMismatchFoundByReadingBackIsAppliedOnceMore) {
  AddStick("1-2", /*authorized=*/true);
  tree_.AddInterface("1-2", 1, 0, "08", "06", "50", /*authorized=*/false);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  // The interface falls back to unauthorized once after the first round
  // (the device switched configuration meanwhile, say).
  const std::string intf = FixtureTree::DevicePath("1-2") + "/1-2:1.0/authorized";
  int probes = 0;
  sysfs_->BeforeWrite([&](std::string_view path) {
    if (path == "/bus/usb/drivers_probe" && ++probes == 1) tree_.WriteFile(intf, "0\n");
  });
  Status s = b.Apply(devices[0], Decide(Action::kAllow));
  ASSERT_TRUE(s.ok()) << s.error().message;
  const auto writes = Writes();
  EXPECT_EQ(std::count(writes.begin(), writes.end(), "/bus/usb/devices/1-2/1-2:1.0/authorized=1"),
            2);
  EXPECT_EQ(tree_.Read(intf), "1");
}

TEST_F(SysfsBackendTest, AMismatchThatStaysIsAFailureNamingTheAttribute) {
  AddStick("1-2", /*authorized=*/true);
  tree_.AddInterface("1-2", 1, 0, "08", "06", "50", /*authorized=*/false);
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  const std::string intf = FixtureTree::DevicePath("1-2") + "/1-2:1.0/authorized";
  sysfs_->BeforeWrite([&](std::string_view path) {
    if (path == "/bus/usb/drivers_probe") tree_.WriteFile(intf, "0\n");
  });
  Status s = b.Apply(devices[0], Decide(Action::kAllow));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(s.error().message, HasSubstr("1-2:1.0/authorized reads 0, decided 1"));
}

TEST_F(SysfsBackendTest, ApplyRefusesVanishedDevicesAndBadIds) {
  AddStick("1-2");
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  tree_.Remove("/bus/usb/devices/1-2");
  Status s = b.Apply(devices[0], Decide(Action::kBlock));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  ObservedDevice evil;
  evil.device_id = "../../../etc";
  EXPECT_EQ(b.Apply(evil, Decide(Action::kBlock)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(Writes(), IsEmpty());
}

// ---- uevents ----------------------------------------------------------------------

TEST_F(SysfsBackendTest, UeventsDuringTheInitialScanAreReplayedAfterIt) {
  SysfsDeviceBackend& b = Backend();
  ChangeCounter changes;
  ASSERT_TRUE(b.Start(changes.Callback()).ok());
  // A stick arrives while the initial scan has not finished.
  AddStick("1-2");
  source_->PushMessages({KernelUevent("add", FixtureTree::DevicePath("1-2"), "usb", "usb_device")});
  ASSERT_TRUE(source_->WaitIdle());
  EXPECT_EQ(changes.count(), 0);  // held back
  (void)b.Enumerate();            // the initial scan
  EXPECT_EQ(changes.count(), 1);  // replayed once it is done
  // From now on uevents notify at once.
  source_->PushMessages(
      {KernelUevent("remove", FixtureTree::DevicePath("1-2"), "usb", "usb_device")});
  EXPECT_TRUE(changes.WaitFor(2));
  b.Stop();
}

TEST_F(SysfsBackendTest, NoUeventsMeansNoReplay) {
  SysfsDeviceBackend& b = Backend();
  ChangeCounter changes;
  ASSERT_TRUE(b.Start(changes.Callback()).ok());
  (void)b.Enumerate();
  (void)b.Enumerate();
  EXPECT_EQ(changes.count(), 0);
  b.Stop();
}

TEST_F(SysfsBackendTest, MalformedAndUdevMessagesAreIgnored) {
  SysfsDeviceBackend& b = Backend();
  ChangeCounter changes;
  ASSERT_TRUE(b.Start(changes.Callback()).ok());
  (void)b.Enumerate();
  std::string udev = "libudev";
  udev.push_back('\0');
  udev += "add@/devices/x";
  source_->PushMessages({udev, "garbage", std::string(20000, '\xff'), ""});
  ASSERT_TRUE(source_->WaitIdle());
  EXPECT_EQ(changes.count(), 0);
  b.Stop();
}

TEST_F(SysfsBackendTest, ANewRootHubIsLockedAtOnce) {
  SysfsDeviceBackend& b = Backend();
  ChangeCounter changes;
  ASSERT_TRUE(b.Start(changes.Callback()).ok());
  (void)b.Enumerate();
  journal_.Clear();
  tree_.AddRootHub(3);
  source_->PushMessages(
      {KernelUevent("add", std::string(FixtureTree::kController) + "/usb3", "usb", "usb_device")});
  ASSERT_TRUE(changes.WaitFor(1));
  ASSERT_TRUE(source_->WaitIdle());
  EXPECT_THAT(Writes(), ElementsAre("/bus/usb/devices/usb3/authorized_default=0",
                                    "/bus/usb/devices/usb3/interface_authorized_default=0"));
  b.Stop();
}

TEST_F(SysfsBackendTest, OverflowRelocksAndRescans) {
  SysfsDeviceBackend& b = Backend();
  ChangeCounter changes;
  ASSERT_TRUE(b.Start(changes.Callback()).ok());
  (void)b.Enumerate();
  journal_.Clear();
  UeventBatch lost;
  lost.overflow = true;
  source_->Push(lost);
  ASSERT_TRUE(changes.WaitFor(1));
  ASSERT_TRUE(source_->WaitIdle());
  EXPECT_EQ(Writes().size(), 4u);
  b.Stop();
}

TEST(UeventSenderTest, OnlyTheKernelIsAccepted) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  kernel.nl_pid = 0;
  kernel.nl_groups = 1;
  EXPECT_TRUE(IsKernelUeventSender(kernel, sizeof kernel));

  sockaddr_nl udev = kernel;
  udev.nl_pid = 4242;  // systemd-udevd re-broadcasting, or anyone else
  EXPECT_FALSE(IsKernelUeventSender(udev, sizeof udev));

  sockaddr_nl wrong_family = kernel;
  wrong_family.nl_family = AF_UNIX;
  EXPECT_FALSE(IsKernelUeventSender(wrong_family, sizeof wrong_family));
  EXPECT_FALSE(IsKernelUeventSender(kernel, 0));
  EXPECT_FALSE(IsKernelUeventSender(kernel, sizeof kernel - 1));
}

// ---- read_only ----------------------------------------------------------------------

TEST_F(SysfsBackendTest, ReadOnlyProtectsDisksAndPartitionsAsTheyAppear) {
  AddStick("1-2");
  AddStick("1-3", /*authorized=*/true);
  SysfsDeviceBackend& b = Backend();
  ChangeCounter changes;
  ASSERT_TRUE(b.Start(changes.Callback()).ok());
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(Find(devices, "1-2"), Decide(Action::kReadOnly)).ok());
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "1");

  const std::string disk = tree_.AddDisk("1-2", "sdb", {"sdb1"});
  const std::string other = tree_.AddDisk("1-3", "sdc");
  source_->PushMessages({
      KernelUevent("add", disk, "block", "disk", 10, "sdb"),
      KernelUevent("add", disk + "/sdb1", "block", "partition", 11, "sdb1"),
      KernelUevent("add", other, "block", "disk", 12, "sdc"),
  });
  ASSERT_TRUE(source_->WaitIdle());
  std::vector<std::string> ro;
  for (const std::string& e : journal_.entries()) {
    if (e.starts_with("readonly ")) ro.push_back(e);
  }
  EXPECT_THAT(ro, ElementsAre("readonly sdb", "readonly sdb1"));
  EXPECT_EQ(changes.count(), 0);  // block uevents do not change the device set
  b.Stop();
}

// ---- automounters ---------------------------------------------------------------------

constexpr const char* kRelease = "change 6d616d6f-7269-4000-8000-000000000001 MAMORI=released";

// "readonly X" and "release X" entries of the journal, in order.
std::vector<std::string> ProtectAndRelease(const Journal& journal) {
  std::vector<std::string> out;
  for (const std::string& e : journal.entries()) {
    if (e.starts_with("readonly ")) out.push_back(e);
    const std::string prefix = "write /class/block/";
    const std::string suffix = std::string("/uevent=") + kRelease;
    if (e.starts_with(prefix) && e.ends_with(suffix)) {
      out.push_back("release " + e.substr(prefix.size(), e.size() - prefix.size() - suffix.size()));
    }
  }
  return out;
}

TEST_F(SysfsBackendTest, AReadOnlyDiskIsReleasedToAutomountersOnlyOnceReadOnly) {
  AddStick("1-2");
  SysfsDeviceBackend& b = Backend();
  ASSERT_TRUE(b.Start([] {}).ok());
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(Find(devices, "1-2"), Decide(Action::kReadOnly)).ok());
  const std::string disk = tree_.AddDisk("1-2", "sdb", {"sdb1"});
  source_->PushMessages({
      KernelUevent("add", disk, "block", "disk", 10, "sdb"),
      KernelUevent("add", disk + "/sdb1", "block", "partition", 11, "sdb1"),
      // The release itself comes back as a "change": no second release.
      KernelUevent("change", disk, "block", "disk", 12, "sdb"),
  });
  ASSERT_TRUE(source_->WaitIdle());
  EXPECT_THAT(
      ProtectAndRelease(journal_),
      ElementsAre("readonly sdb", "release sdb", "readonly sdb1", "release sdb1", "readonly sdb"));
  EXPECT_EQ(tree_.Read(disk + "/uevent"), kRelease);
  b.Stop();
}

TEST_F(SysfsBackendTest, DisksPresentAtApplyAreReleasedWhenAllAreReadOnly) {
  AddStick("1-2", /*authorized=*/true);
  tree_.AddDisk("1-2", "sdb", {"sdb1"});
  SysfsDeviceBackend& b = Backend();
  ASSERT_TRUE(b.Apply(b.Enumerate()[0], Decide(Action::kReadOnly)).ok());
  EXPECT_THAT(ProtectAndRelease(journal_),
              ElementsAre("readonly sdb", "readonly sdb1", "release sdb", "release sdb1"));
}

TEST_F(SysfsBackendTest, ADiskThatCouldNotBeMadeReadOnlyIsNeverReleased) {
  AddStick("1-2");
  SysfsDeviceBackend& b = Backend();
  ASSERT_TRUE(b.Start([] {}).ok());
  ASSERT_TRUE(b.Apply(b.Enumerate()[0], Decide(Action::kReadOnly)).ok());
  guard_->Fail("sdb");
  const std::string disk = tree_.AddDisk("1-2", "sdb");
  source_->PushMessages({KernelUevent("add", disk, "block", "disk", 10, "sdb")});
  ASSERT_TRUE(source_->WaitIdle());
  EXPECT_THAT(ProtectAndRelease(journal_), ElementsAre("readonly sdb"));
  b.Stop();
}

TEST_F(SysfsBackendTest, AnAllowedDiskIsReleasedAsItAppearsAndAnUndecidedOneIsNot) {
  AddStick("1-2");
  AddStick("1-3", /*authorized=*/true);  // authorized, but not by this agent
  SysfsDeviceBackend& b = Backend();
  ASSERT_TRUE(b.Start([] {}).ok());
  ASSERT_TRUE(b.Apply(Find(b.Enumerate(), "1-2"), Decide(Action::kAllow)).ok());
  const std::string allowed = tree_.AddDisk("1-2", "sdb");
  const std::string other = tree_.AddDisk("1-3", "sdc");
  source_->PushMessages({KernelUevent("add", allowed, "block", "disk", 10, "sdb"),
                         KernelUevent("add", other, "block", "disk", 11, "sdc")});
  ASSERT_TRUE(source_->WaitIdle());
  EXPECT_THAT(ProtectAndRelease(journal_), ElementsAre("release sdb"));
  b.Stop();
}

TEST_F(SysfsBackendTest, ReadOnlyProtectsDisksAlreadyPresentAtApply) {
  AddStick("1-2", /*authorized=*/true);
  tree_.AddDisk("1-2", "sdb", {"sdb1", "sdb2"});
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(devices[0], Decide(Action::kReadOnly)).ok());
  std::vector<std::string> ro;
  for (const std::string& e : journal_.entries()) {
    if (e.starts_with("readonly ")) ro.push_back(e);
  }
  EXPECT_THAT(ro, ElementsAre("readonly sdb", "readonly sdb1", "readonly sdb2"));
}

TEST_F(SysfsBackendTest, ReadOnlyFailureAtApplyDeauthorizesAndSticks) {
  AddStick("1-2", /*authorized=*/true);
  tree_.AddDisk("1-2", "sdb");
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  guard_->Fail("sdb");
  Status s = b.Apply(devices[0], Decide(Action::kReadOnly));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("sdb"));
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "0");
  // Retried by the core: still failing, and the device is not authorized
  // again in between.
  journal_.Clear();
  EXPECT_FALSE(b.Apply(devices[0], Decide(Action::kReadOnly)).ok());
  EXPECT_THAT(Writes(), IsEmpty());
  // Still listed (no re-decision needed: the failure was returned).
  EXPECT_EQ(b.Enumerate().size(), 1u);
  // Another decision replaces it.
  EXPECT_TRUE(b.Apply(devices[0], Decide(Action::kBlock)).ok());
}

TEST_F(SysfsBackendTest, ReadOnlyFailureFromAUeventIsCarriedByTheNextScan) {
  AddStick("1-2");
  SysfsDeviceBackend& b = Backend();
  ChangeCounter changes;
  ASSERT_TRUE(b.Start(changes.Callback()).ok());
  auto devices = b.Enumerate();
  ASSERT_TRUE(b.Apply(devices[0], Decide(Action::kReadOnly)).ok());

  guard_->Fail("sdb");
  const std::string disk = tree_.AddDisk("1-2", "sdb");
  source_->PushMessages({KernelUevent("add", disk, "block", "disk", 10, "sdb")});
  ASSERT_TRUE(changes.WaitFor(1));
  ASSERT_TRUE(source_->WaitIdle());
  // Fail closed at once.
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "0");
  // The core's next scan sees the failure on the device, so it applies
  // again: Apply returns the failure.
  devices = b.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_THAT(devices[0].enforcement_error, HasSubstr("sdb"));
  Status s = b.Apply(devices[0], Decide(Action::kReadOnly));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("sdb"));
  EXPECT_THAT(s.error().message, HasSubstr("de-authorized"));
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "0");
  b.Stop();
}

TEST_F(SysfsBackendTest, ReadOnlyFailureIsForgottenWhenTheDeviceIsReplugged) {
  AddStick("1-2", /*authorized=*/true);
  tree_.AddDisk("1-2", "sdb");
  SysfsDeviceBackend& b = Backend();
  auto devices = b.Enumerate();
  guard_->Fail("sdb");
  ASSERT_FALSE(b.Apply(devices[0], Decide(Action::kReadOnly)).ok());
  // Re-plugged between two scans: a new device address.
  tree_.WriteFile(FixtureTree::DevicePath("1-2") + "/devnum", "9\n");
  tree_.Remove("/class/block/sdb");
  auto replugged = b.Enumerate();
  ASSERT_EQ(replugged.size(), 1u);
  EXPECT_EQ(replugged[0].instance, "9");
  EXPECT_TRUE(b.Apply(replugged[0], Decide(Action::kReadOnly)).ok());
  EXPECT_EQ(tree_.Read("/bus/usb/devices/1-2/authorized"), "1");
  EXPECT_EQ(b.Enumerate()[0].enforcement_error, "");
}

}  // namespace
}  // namespace mamori
