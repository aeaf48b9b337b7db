#include "agent/platform/windows/device/windows_device_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/platform/windows/device/function_class.h"
#include "common/policy/policy.h"
#include "common/policy/rule_engine.h"

namespace mamori {
namespace {

// A PnP tree in memory. SetEnabled flips `disabled` unless told to fail or
// to pretend (a driver that refuses to stop: the call succeeds, the state
// does not change).
class FakeDeviceManager final : public DeviceManager {
 public:
  Result<std::vector<DevNode>> ListPresent() override { return nodes; }
  Status SetEnabled(std::string_view id, bool enabled) override {
    calls.push_back(std::string(enabled ? "enable " : "disable ") + std::string(id));
    if (fail_set) return MakeError(ErrorCode::kIo, "SetupDiCallClassInstaller: denied (5)");
    if (DevNode* n = Find(id); n && !ignore_set) n->disabled = !enabled;
    return Status::Ok();
  }
  Result<bool> IsDisabled(std::string_view id) override {
    if (DevNode* n = Find(id)) return n->disabled;
    return MakeError(ErrorCode::kNotFound, "no such node");
  }
  Result<std::vector<DeviceInterface>> ListInterfaces(InterfaceClass cls) override {
    if (fail_interfaces) return MakeError(ErrorCode::kIo, "SetupDiGetClassDevsW: failed");
    return interfaces[cls];
  }
  DevNode* Find(std::string_view id) {
    const auto it = std::find_if(nodes.begin(), nodes.end(),
                                 [&](const DevNode& n) { return n.instance_id == id; });
    return it == nodes.end() ? nullptr : &*it;
  }

  std::vector<DevNode> nodes;
  std::map<InterfaceClass, std::vector<DeviceInterface>> interfaces;
  std::vector<std::string> calls;
  bool fail_set = false;
  bool ignore_set = false;
  bool fail_interfaces = false;
};

// Disks by path with their read-only attribute.
class FakeDiskControl final : public DiskControl {
 public:
  Status SetReadOnly(std::string_view path) override {
    set_calls.push_back(std::string(path));
    if (fail_set) return MakeError(ErrorCode::kIo, "IOCTL_DISK_SET_DISK_ATTRIBUTES: denied (5)");
    if (!ignore_set) read_only.insert(std::string(path));
    return Status::Ok();
  }
  Result<bool> IsReadOnly(std::string_view path) override {
    return read_only.contains(std::string(path));
  }
  // Disks not listed in `props` are fixed NVMe disks.
  Result<StorageProperties> QueryStorage(std::string_view path) override {
    query_calls.push_back(std::string(path));
    if (auto it = props.find(std::string(path)); it != props.end()) return it->second;
    StorageProperties fixed;
    fixed.bus_type = kStorageBusNvme;
    return fixed;
  }
  Result<uint32_t> DiskNumber(std::string_view path) override {
    if (auto it = numbers.find(std::string(path)); it != numbers.end()) return it->second;
    return MakeError(ErrorCode::kIo, "IOCTL_STORAGE_GET_DEVICE_NUMBER: not supported (50)");
  }
  Result<std::vector<uint32_t>> SystemDiskNumbers() override {
    if (fail_system) return MakeError(ErrorCode::kIo, "GetVolumePathNameW: failed");
    return system_disks;
  }

  std::map<std::string, StorageProperties> props;
  std::map<std::string, uint32_t> numbers;
  std::vector<uint32_t> system_disks = {0};
  bool fail_system = false;
  std::vector<std::string> query_calls;
  std::set<std::string> read_only;
  std::vector<std::string> set_calls;
  bool fail_set = false;
  bool ignore_set = false;  // a disk that acknowledges and stays writable
};

// Hands the sink to the test, which injects events through it.
class FakeNotificationSource final : public DeviceNotificationSource {
 public:
  std::string_view Name() const override { return "fake"; }
  Status Start(DeviceNotificationSink s) override {
    if (fail_start) return MakeError(ErrorCode::kUnavailable, "RegisterDeviceNotificationW: no");
    sink = std::move(s);
    return Status::Ok();
  }
  void Stop() override {
    sink = nullptr;
    ++stops;
  }
  DeviceNotificationSink sink;
  bool fail_start = false;
  int stops = 0;
};

const char kHub[] = "USB\\ROOT_HUB30\\4&1a2b3c4d&0&0";
const char kStick[] = "USB\\VID_0781&PID_5581\\4C530001231120115142";
const char kStickDisk[] = "USBSTOR\\Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00\\4C530001231120115142&0";
const char kCombo[] = "USB\\VID_046D&PID_C31C\\5&2a3b4c5d&0&2";
const char kComboKbd[] = "USB\\VID_046D&PID_C31C&MI_00\\6&11111111&0&0000";
const char kComboStor[] = "USB\\VID_046D&PID_C31C&MI_01\\6&11111111&0&0001";
const char kComboDisk[] = "USBSTOR\\Disk&Ven_Logi&Prod_Hidden_Disk&Rev_0001\\7&22222222&0";
const char kStickDiskPath[] =
    "\\\\?\\USBSTOR#Disk&Ven_SanDisk&Prod_Ultra&Rev_1.00#4C530001231120115142&0#"
    "{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";
const char kComboDiskPath[] =
    "\\\\?\\USBSTOR#Disk&Ven_Logi&Prod_Hidden_Disk&Rev_0001#7&22222222&0#"
    "{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";
const char kSystemDiskPath[] =
    "\\\\?\\SCSI#Disk&Ven_NVMe&Prod_Samsung#4&1&0&000000#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";

std::vector<DevNode> Tree() {
  return {
      {"PCI\\VEN_8086&DEV_A36D\\3&11583659&0&A0", "HTREE\\ROOT\\0", {}, {}, false, {}},
      {kHub, "PCI\\VEN_8086&DEV_A36D\\3&11583659&0&A0", {"USB\\ROOT_HUB30"}, {}, false, {}},
      {kStick,
       kHub,
       {"USB\\VID_0781&PID_5581&REV_0100", "USB\\VID_0781&PID_5581"},
       {"USB\\Class_08&SubClass_06&Prot_50", "USB\\Class_08&SubClass_06", "USB\\Class_08"},
       false,
       {}},
      {kStickDisk, kStick, {}, {"USBSTOR\\Disk", "GenDisk"}, false, {}},
      {kCombo, kHub, {}, {"USB\\DevClass_00&SubClass_00&Prot_00", "USB\\COMPOSITE"}, false, {}},
      {kComboKbd, kCombo, {}, {"USB\\Class_03&SubClass_01&Prot_01"}, false, {}},
      {kComboStor, kCombo, {}, {"USB\\Class_08&SubClass_06&Prot_50"}, false, {}},
      {kComboDisk, kComboStor, {}, {}, false, {}},
      {"SCSI\\Disk&Ven_NVMe&Prod_Samsung\\4&1&0&000000",
       "PCI\\VEN_8086&DEV_A36D\\3&11583659&0&A0",
       {},
       {},
       false,
       {}},
  };
}

class WindowsBackendTest : public ::testing::Test {
 protected:
  WindowsBackendTest() {
    devices_.nodes = Tree();
    devices_.interfaces[InterfaceClass::kDisk] = {
        {kSystemDiskPath, "SCSI\\Disk&Ven_NVMe&Prod_Samsung\\4&1&0&000000"},
        {kStickDiskPath, kStickDisk},
        {kComboDiskPath, kComboDisk},
    };
  }
  ObservedDevice Observed(std::string_view id) {
    for (ObservedDevice& d : backend_.Enumerate()) {
      if (d.device_id == id) return d;
    }
    ADD_FAILURE() << "not enumerated: " << id;
    return {};
  }
  static Decision ReadOnly() {
    Decision d;
    d.action = Action::kReadOnly;
    return d;
  }
  static DeviceNotification DiskArrival() {
    return {DeviceNotification::Kind::kArrival, InterfaceClass::kDisk, kStickDiskPath};
  }

  FakeDeviceManager devices_;
  FakeDiskControl disks_;
  WindowsDeviceBackend backend_{devices_, disks_, nullptr};
};

TEST_F(WindowsBackendTest, EnumeratesUsbDevicesOnly) {
  const auto devices = backend_.Enumerate();
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0].device_id, kStick);
  EXPECT_EQ(devices[1].device_id, kCombo);
  EXPECT_EQ(backend_.Name(), "windows-setupapi");
}

TEST_F(WindowsBackendTest, StickIdentity) {
  const DeviceIdentity id = Observed(kStick).identity;
  EXPECT_EQ(id.VidPid(), "0781:5581");
  EXPECT_EQ(id.serial, "4C530001231120115142");
  EXPECT_EQ(id.manufacturer, "SanDisk");
  EXPECT_EQ(id.product, "Ultra");
  EXPECT_EQ(id.device_class, DeviceClass::kMassStorage);
  EXPECT_EQ(id.interface_classes, std::vector<DeviceClass>{DeviceClass::kMassStorage});
  EXPECT_TRUE(id.HasStorage());
}

TEST_F(WindowsBackendTest, CompositeIdentity) {
  const DeviceIdentity id = Observed(kCombo).identity;
  EXPECT_EQ(id.VidPid(), "046d:c31c");
  EXPECT_EQ(id.serial, "");  // Windows generated the instance part
  EXPECT_EQ(id.product, "Hidden Disk");
  EXPECT_EQ(id.device_class, DeviceClass::kMassStorage);  // most sensitive interface
  EXPECT_EQ(id.interface_classes,
            (std::vector<DeviceClass>{DeviceClass::kHid, DeviceClass::kMassStorage}));
}

TEST_F(WindowsBackendTest, BlockDisablesAndConfirms) {
  Decision d;
  d.action = Action::kBlock;
  ASSERT_TRUE(backend_.Apply(Observed(kStick), d));
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
  EXPECT_EQ(devices_.calls, std::vector<std::string>{std::string("disable ") + kStick});
  // Already disabled: nothing to do.
  ASSERT_TRUE(backend_.Apply(Observed(kStick), d));
  EXPECT_EQ(devices_.calls.size(), 1u);
}

TEST_F(WindowsBackendTest, AllowReenablesADisabledDevice) {
  devices_.Find(kStick)->disabled = true;
  Decision d;
  d.action = Action::kAllow;
  ASSERT_TRUE(backend_.Apply(Observed(kStick), d));
  EXPECT_FALSE(devices_.Find(kStick)->disabled);
}

TEST_F(WindowsBackendTest, DisableThatDoesNotTakeIsAnEnforcementFailure) {
  devices_.ignore_set = true;
  Decision d;
  d.action = Action::kBlock;
  const Status s = backend_.Apply(Observed(kStick), d);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("still enabled"), std::string::npos) << s.error().message;
}

TEST_F(WindowsBackendTest, SetupApiErrorIsAnEnforcementFailure) {
  devices_.fail_set = true;
  Decision d;
  d.action = Action::kBlock;
  const Status s = backend_.Apply(Observed(kStick), d);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("denied"), std::string::npos);
}

TEST_F(WindowsBackendTest, CompositeKeepsAllowedInterfaces) {
  Decision d;
  d.action = Action::kBlock;
  d.allowed_interface_classes = {DeviceClass::kHid};
  ASSERT_TRUE(backend_.Apply(Observed(kCombo), d));
  EXPECT_FALSE(devices_.Find(kCombo)->disabled);
  EXPECT_FALSE(devices_.Find(kComboKbd)->disabled);
  EXPECT_TRUE(devices_.Find(kComboStor)->disabled);
}

TEST_F(WindowsBackendTest, ReadOnlyProtectsTheDevicesDisksOnly) {
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ReadOnly()));
  EXPECT_EQ(disks_.set_calls, std::vector<std::string>{kStickDiskPath});
  EXPECT_TRUE(disks_.read_only.contains(kStickDiskPath));
  EXPECT_FALSE(devices_.Find(kStick)->disabled);
  EXPECT_TRUE(devices_.calls.empty());
}

TEST_F(WindowsBackendTest, ReadOnlyFindsADiskBelowAnInterfaceOfACompositeDevice) {
  ASSERT_TRUE(backend_.Apply(Observed(kCombo), ReadOnly()));
  EXPECT_EQ(disks_.set_calls, std::vector<std::string>{kComboDiskPath});
}

TEST_F(WindowsBackendTest, ReadOnlyDiskAlreadyReadOnlyIsNotSetAgain) {
  disks_.read_only.insert(kStickDiskPath);
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ReadOnly()));
  EXPECT_TRUE(disks_.set_calls.empty());
}

TEST_F(WindowsBackendTest, ReadOnlyIoctlFailureDisablesTheDevice) {
  disks_.fail_set = true;
  const Status s = backend_.Apply(Observed(kStick), ReadOnly());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("could not make disk"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("disabled until it is unplugged"), std::string::npos);
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
  // The failure sticks: the core sees it and applies again, in vain.
  const ObservedDevice again = Observed(kStick);
  EXPECT_EQ(again.enforcement_error, s.error().message);
  disks_.fail_set = false;
  const Status s2 = backend_.Apply(again, ReadOnly());
  ASSERT_FALSE(s2);
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
}

TEST_F(WindowsBackendTest, ReadOnlyFailureClearsWhenTheDeviceIsUnplugged) {
  disks_.fail_set = true;
  ASSERT_FALSE(backend_.Apply(Observed(kStick), ReadOnly()));
  const std::vector<DevNode> all = devices_.nodes;
  std::erase_if(devices_.nodes, [](const DevNode& n) {
    return n.instance_id == kStick || n.instance_id == kStickDisk;
  });
  (void)backend_.Enumerate();  // unplugged
  devices_.nodes = all;        // plugged in again: the node is still disabled
  disks_.fail_set = false;
  const ObservedDevice back = Observed(kStick);
  EXPECT_TRUE(back.enforcement_error.empty());
  ASSERT_TRUE(backend_.Apply(back, ReadOnly()));
  EXPECT_FALSE(devices_.Find(kStick)->disabled);
  EXPECT_TRUE(disks_.read_only.contains(kStickDiskPath));
}

TEST_F(WindowsBackendTest, ReadOnlyThatDoesNotReadBackFailsClosed) {
  disks_.ignore_set = true;
  const Status s = backend_.Apply(Observed(kStick), ReadOnly());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("still writable"), std::string::npos) << s.error().message;
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
}

TEST_F(WindowsBackendTest, ReadOnlyFailsClosedWhenDisablingFailsToo) {
  disks_.fail_set = true;
  devices_.fail_set = true;
  const Status s = backend_.Apply(Observed(kStick), ReadOnly());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("disabling the device failed too"), std::string::npos);
}

TEST_F(WindowsBackendTest, ReadOnlyCannotCoverAnOpticalDrive) {
  devices_.interfaces[InterfaceClass::kCdRom] = {{"\\\\?\\USBSTOR#CdRom#x", kStickDisk}};
  const Status s = backend_.Apply(Observed(kStick), ReadOnly());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("cdrom interface"), std::string::npos) << s.error().message;
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
}

TEST_F(WindowsBackendTest, ReadOnlyInterfaceListingErrorFailsClosed) {
  devices_.fail_interfaces = true;
  ASSERT_FALSE(backend_.Apply(Observed(kStick), ReadOnly()));
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
}

TEST_F(WindowsBackendTest, ReadOnlyEnablesABlockedDeviceAndProtectsItsArrivingDisk) {
  // Blocked before: disabled, so Windows shows no disk yet.
  devices_.Find(kStick)->disabled = true;
  const auto disks = devices_.interfaces[InterfaceClass::kDisk];
  std::erase_if(devices_.interfaces[InterfaceClass::kDisk],
                [](const DeviceInterface& d) { return d.path == kStickDiskPath; });
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ReadOnly()));
  EXPECT_FALSE(devices_.Find(kStick)->disabled);
  EXPECT_TRUE(disks_.set_calls.empty());

  devices_.interfaces[InterfaceClass::kDisk] = disks;  // the disk comes up
  backend_.HandleNotification(DiskArrival());
  EXPECT_EQ(disks_.set_calls, std::vector<std::string>{kStickDiskPath});
  EXPECT_TRUE(disks_.read_only.contains(kStickDiskPath));
}

TEST_F(WindowsBackendTest, ArrivingDiskThatCannotBeProtectedDisablesTheDevice) {
  std::erase_if(devices_.interfaces[InterfaceClass::kDisk],
                [](const DeviceInterface& d) { return d.path == kStickDiskPath; });
  int changes = 0;
  ASSERT_TRUE(backend_.Start([&] { ++changes; }));
  (void)backend_.Enumerate();
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ReadOnly()));

  devices_.interfaces[InterfaceClass::kDisk].push_back({kStickDiskPath, kStickDisk});
  disks_.fail_set = true;
  backend_.HandleNotification(DiskArrival());
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
  EXPECT_GE(changes, 1);  // the core is told, applies again, and gets the failure
  const ObservedDevice d = Observed(kStick);
  EXPECT_NE(d.enforcement_error.find("could not make disk"), std::string::npos);
  EXPECT_FALSE(backend_.Apply(d, ReadOnly()));
  backend_.Stop();
}

TEST_F(WindowsBackendTest, AnotherDecisionStopsTheReadOnlyWatch) {
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ReadOnly()));
  disks_.read_only.clear();
  disks_.set_calls.clear();
  Decision allow;
  allow.action = Action::kAllow;
  ASSERT_TRUE(backend_.Apply(Observed(kStick), allow));
  backend_.HandleNotification(DiskArrival());
  EXPECT_TRUE(disks_.set_calls.empty());
}

TEST_F(WindowsBackendTest, UsbArrivalAloneTouchesNoDisk) {
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ReadOnly()));
  disks_.set_calls.clear();
  disks_.read_only.clear();
  backend_.HandleNotification(
      {DeviceNotification::Kind::kArrival, InterfaceClass::kUsbDevice, "\\\\?\\USB#VID_0781"});
  EXPECT_TRUE(disks_.set_calls.empty());
  backend_.HandleNotification(
      {DeviceNotification::Kind::kArrival, InterfaceClass::kVolume, "\\\\?\\STORAGE#Volume#x"});
  EXPECT_EQ(disks_.set_calls, std::vector<std::string>{kStickDiskPath});
}

TEST_F(WindowsBackendTest, DriverInterfaceArrivalAsksTheCoreAgainAndTouchesNoDisk) {
  // A USB Ethernet adapter, serial bridge, modem or Bluetooth radio gets
  // its interface once Windows installed its driver; only then is its
  // class known, so the core must decide again at once.
  int changes = 0;
  ASSERT_TRUE(backend_.Start([&] { ++changes; }));
  backend_.Enumerate();  // the first scan; notifications reach the core from now on
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ReadOnly()));
  disks_.set_calls.clear();
  disks_.read_only.clear();
  const int before = changes;
  for (InterfaceClass cls : {InterfaceClass::kNet, InterfaceClass::kComPort, InterfaceClass::kModem,
                             InterfaceClass::kBluetooth}) {
    backend_.HandleNotification(
        {DeviceNotification::Kind::kArrival, cls, "\\\\?\\USB#VID_0BDA&PID_8153#000001000000"});
  }
  EXPECT_EQ(changes - before, 4);
  EXPECT_TRUE(disks_.set_calls.empty());  // not a storage interface
  backend_.Stop();
}

TEST(InterfaceClassNameTest, StorageInterfacesOnly) {
  for (InterfaceClass c : kWatchedInterfaceClasses) {
    const bool storage = c == InterfaceClass::kDisk || c == InterfaceClass::kVolume ||
                         c == InterfaceClass::kCdRom || c == InterfaceClass::kWpd;
    EXPECT_EQ(IsStorageInterface(c), storage) << InterfaceClassName(c);
    EXPECT_NE(InterfaceClassName(c), "unknown");
  }
}

TEST_F(WindowsBackendTest, GoneDevice) {
  const ObservedDevice stick = Observed(kStick);
  devices_.nodes.erase(devices_.nodes.begin() + 2);
  Decision d;
  d.action = Action::kBlock;
  const Status s = backend_.Apply(stick, d);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
}

// A stick an exception allows: the registry line lets its nodes through
// before it is enabled; a disk refused a driver before has the stick
// restarted once; another decision or the unplugging closes the line.
class ExceptionAllowanceTest : public WindowsBackendTest {
 protected:
  ExceptionAllowanceTest() {
    backend_.SetAllowanceListener([this](const ExceptionAllowance& a) {
      seen_.push_back(a);
      devices_.calls.push_back("allowance " + std::to_string(a.instance_ids.size()));
      return fail_ ? MakeError(ErrorCode::kIo, "RegSetValueExW: denied (5)") : Status::Ok();
    });
  }
  static Decision ByException() {
    Decision d;
    d.action = Action::kAllow;
    d.matched_rule = "exception:EX-1";
    return d;
  }
  std::vector<ExceptionAllowance> seen_;
  bool fail_ = false;
};

TEST_F(ExceptionAllowanceTest, AllowsTheStickNodesBeforeEnablingAndRetriesTheRefusedDisk) {
  devices_.Find(kStick)->disabled = true;
  const ObservedDevice stick = Observed(kStick);
  ASSERT_TRUE(backend_.Apply(stick, ByException()));
  ASSERT_FALSE(seen_.empty());
  EXPECT_EQ(seen_.back().instance_ids,
            (std::vector<std::string>{kStickDisk, kStick}));  // sorted: "USBSTOR" < "USB\\"
  EXPECT_EQ(seen_.back().classes, std::vector<DeviceClass>{DeviceClass::kMassStorage});
  // The way through before the device comes up; the disk had no driver (its
  // install was refused), so the stick is restarted once.
  EXPECT_EQ(devices_.calls,
            (std::vector<std::string>{"allowance 2", std::string("enable ") + kStick,
                                      std::string("disable ") + kStick,
                                      std::string("enable ") + kStick}));
  EXPECT_FALSE(devices_.Find(kStick)->disabled);
}

TEST_F(ExceptionAllowanceTest, InstalledDiskNeedsNoRestart) {
  devices_.Find(kStickDisk)->driver.setup_class = "{4d36e967-e325-11ce-bfc1-08002be10318}";
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ByException()));
  EXPECT_EQ(devices_.calls, std::vector<std::string>{"allowance 2"});
  // The same decision again changes nothing.
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ByException()));
  EXPECT_EQ(seen_.size(), 1u);
}

TEST_F(ExceptionAllowanceTest, EndOfTheExceptionClosesTheLine) {
  devices_.Find(kStickDisk)->driver.setup_class = "{4d36e967-e325-11ce-bfc1-08002be10318}";
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ByException()));
  Decision block;
  block.action = Action::kBlock;
  ASSERT_TRUE(backend_.Apply(Observed(kStick), block));
  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_TRUE(seen_.back().empty());
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
}

TEST_F(ExceptionAllowanceTest, UnpluggingClosesTheLine) {
  devices_.Find(kStickDisk)->driver.setup_class = "{4d36e967-e325-11ce-bfc1-08002be10318}";
  ASSERT_TRUE(backend_.Apply(Observed(kStick), ByException()));
  std::erase_if(devices_.nodes, [](const DevNode& n) {
    return n.instance_id == kStick || n.instance_id == kStickDisk;
  });
  (void)backend_.Enumerate();
  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_TRUE(seen_.back().empty());
}

TEST_F(ExceptionAllowanceTest, OrdinaryDecisionsLeaveTheLineAlone) {
  Decision allow;
  allow.action = Action::kAllow;
  allow.matched_rule = "registered-media";
  ASSERT_TRUE(backend_.Apply(Observed(kStick), allow));
  Decision block;
  block.action = Action::kBlock;
  ASSERT_TRUE(backend_.Apply(Observed(kCombo), block));
  EXPECT_TRUE(seen_.empty());
}

// The registry cannot be relaxed: the stick stays disabled and the failure
// is an enforcement failure naming the registry line.
TEST_F(ExceptionAllowanceTest, RegistryFailureFailsTheApplyAndLeavesTheStickDisabled) {
  devices_.Find(kStick)->disabled = true;
  fail_ = true;
  const Status s = backend_.Apply(Observed(kStick), ByException());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("registry line"), std::string::npos) << s.error().message;
  EXPECT_TRUE(devices_.Find(kStick)->disabled);
}

// Storage found through the disks rather than USB class codes.
const char kSdHost[] = "PCI\\VEN_8086&DEV_9DC4\\3&11583659&0&F8";
const char kSdCard[] = "SD\\VID_03&OID_5344&PID_SD16G&REV_8.0\\5&3a2b1c0d&0&0";
const char kSdCardPath[] =
    "\\\\?\\SD#VID_03&OID_5344&PID_SD16G&REV_8.0#5&3a2b1c0d&0&0#"
    "{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";
const char kSystemDisk[] = "SCSI\\Disk&Ven_NVMe&Prod_Samsung\\4&1&0&000000";
const char kVendorDevice[] = "USB\\VID_1234&PID_5678\\VND0001";
const char kVendorDisk[] = "SCSI\\Disk&Ven_Vendor&Prod_Secure_Disk\\7&33333333&0&000000";
const char kVendorDiskPath[] =
    "\\\\?\\SCSI#Disk&Ven_Vendor&Prod_Secure_Disk#7&33333333&0&000000#"
    "{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";
const char kKeyboard[] = "USB\\VID_046D&PID_C31D\\6&44444444&0&3";
const char kSataBay[] = "SCSI\\Disk&Ven_WDC&Prod_WD10EZEX\\4&2&0&010000";
const char kSataBayPath[] =
    "\\\\?\\SCSI#Disk&Ven_WDC&Prod_WD10EZEX#4&2&0&010000#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";
const char kFirewire[] = "SBP2\\LaCie&d2_quadra&LUN0\\1&2&3&4";
const char kFirewirePath[] =
    "\\\\?\\SBP2#LaCie&d2_quadra&LUN0#1&2&3&4#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}";

StorageProperties Props(uint32_t bus, bool removable, std::string serial = "") {
  StorageProperties p;
  p.bus_type = bus;
  p.removable_media = removable;
  p.serial = std::move(serial);
  return p;
}

class StorageMappingTest : public WindowsBackendTest {
 protected:
  StorageMappingTest() {
    const char* const pci = "PCI\\VEN_8086&DEV_A36D\\3&11583659&0&A0";
    devices_.nodes.push_back({kSdHost, "HTREE\\ROOT\\0", {}, {}, false, {}});
    devices_.nodes.push_back({kSdCard,
                              kSdHost,
                              {"SD\\VID_03&OID_5344&PID_SD16G&REV_8.0", "SD\\VID_03&OID_5344"},
                              {"SD\\CLASS_MEMORY"},
                              false,
                              {}});
    devices_.nodes.push_back(
        {kVendorDevice,
         kHub,
         {"USB\\VID_1234&PID_5678&REV_0100"},
         {"USB\\Class_FF&SubClass_FF&Prot_FF", "USB\\Class_FF&SubClass_FF", "USB\\Class_FF"},
         false,
         {}});
    devices_.nodes.push_back({kVendorDisk, kVendorDevice, {}, {"GenDisk"}, false, {}});
    devices_.nodes.push_back({kKeyboard,
                              kHub,
                              {"USB\\VID_046D&PID_C31D&REV_6700"},
                              {"USB\\Class_03&SubClass_01&Prot_01", "USB\\Class_03"},
                              false,
                              {}});
    devices_.nodes.push_back({kSataBay, pci, {}, {"GenDisk"}, false, {}});
    devices_.nodes.push_back(
        {kFirewire, "1394\\LaCie&d2_quadra\\0123456789ABCDEF", {}, {}, false, {}});
    devices_.nodes.push_back({"1394\\LaCie&d2_quadra\\0123456789ABCDEF", pci, {}, {}, false, {}});
    auto& disks = devices_.interfaces[InterfaceClass::kDisk];
    disks.push_back({kSdCardPath, kSdCard});
    disks.push_back({kVendorDiskPath, kVendorDisk});
    disks.push_back({kSataBayPath, kSataBay});
    disks.push_back({kFirewirePath, kFirewire});
    StorageProperties sd = Props(kStorageBusSd, true, "0x1234abcd");
    sd.product = "SD16G";
    disks_.props[kSdCardPath] = sd;
    disks_.props[kVendorDiskPath] = Props(kStorageBusUsb, true);
    disks_.props[kSataBayPath] = Props(kStorageBusSata, false);  // fixed unless told otherwise
    disks_.props[kFirewirePath] = Props(kStorageBus1394, false, "0123456789ABCDEF");
    disks_.numbers = {{kSystemDiskPath, 0},
                      {kSdCardPath, 1},
                      {kSataBayPath, 2},
                      {kFirewirePath, 3},
                      {kVendorDiskPath, 4}};
  }
  // What the agent core does for one device under the built-in default.
  Decision Decide(const ObservedDevice& d) {
    return Evaluate(BuiltinDefaultPolicy(), d.identity, /*now_ms=*/0);
  }
  // Decides and applies every enumerated device, as the core does.
  void DecideAll() {
    for (const ObservedDevice& d : backend_.Enumerate()) {
      const Status s = backend_.Apply(d, Decide(d));
      EXPECT_TRUE(s) << d.device_id << ": " << s.error().message;
    }
  }
  std::vector<std::string> Ids() {
    std::vector<std::string> ids;
    for (const ObservedDevice& d : backend_.Enumerate()) ids.push_back(d.device_id);
    return ids;
  }
  void Unlist(std::string_view path) {
    std::erase_if(devices_.interfaces[InterfaceClass::kDisk],
                  [&](const DeviceInterface& d) { return d.path == path; });
  }
};

TEST_F(StorageMappingTest, SdCardOnPciIsACardReaderBlockedByTheDefault) {
  const ObservedDevice sd = Observed(kSdCard);
  EXPECT_EQ(sd.identity.device_class, DeviceClass::kCardReader);
  EXPECT_EQ(sd.identity.interface_classes, std::vector<DeviceClass>{DeviceClass::kCardReader});
  EXPECT_EQ(sd.identity.serial, "0x1234abcd");
  EXPECT_EQ(sd.identity.product, "SD16G");
  EXPECT_EQ(sd.identity.VidPid(), "0000:0000");
  const Decision d = Decide(sd);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default");
  ASSERT_TRUE(backend_.Apply(sd, d));
  EXPECT_TRUE(devices_.Find(kSdCard)->disabled);
  EXPECT_EQ(devices_.calls, std::vector<std::string>{std::string("disable ") + kSdCard});
  EXPECT_FALSE(devices_.Find(kSdHost)->disabled);  // the controller stays

  // Disabled, the disk has no interface any more; it is still reported, so
  // the same decision finds nothing to do and another one can undo it.
  Unlist(kSdCardPath);
  const ObservedDevice again = Observed(kSdCard);
  EXPECT_EQ(again.identity.device_class, DeviceClass::kCardReader);
  EXPECT_EQ(again.identity.serial, sd.identity.serial);
  ASSERT_TRUE(backend_.Apply(again, Decide(again)));
  EXPECT_EQ(devices_.calls.size(), 1u);
  Decision allow;
  allow.action = Action::kAllow;
  ASSERT_TRUE(backend_.Apply(again, allow));
  EXPECT_FALSE(devices_.Find(kSdCard)->disabled);
}

TEST_F(StorageMappingTest, SdCardReadOnlyProtectsItsDisk) {
  Decision ro;
  ro.action = Action::kReadOnly;
  ASSERT_TRUE(backend_.Apply(Observed(kSdCard), ro));
  EXPECT_EQ(disks_.set_calls, std::vector<std::string>{kSdCardPath});
  EXPECT_FALSE(devices_.Find(kSdCard)->disabled);
}

TEST_F(StorageMappingTest, CardRemovedIsGone) {
  (void)Observed(kSdCard);
  Unlist(kSdCardPath);
  std::erase_if(devices_.nodes, [](const DevNode& n) { return n.instance_id == kSdCard; });
  const auto ids = Ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kSdCard), 0);
}

TEST_F(StorageMappingTest, SystemNvmeDiskIsNeverTouched) {
  DecideAll();
  DecideAll();
  // Asked, judged fixed, never reported, never disabled, never numbered.
  EXPECT_NE(std::find(disks_.query_calls.begin(), disks_.query_calls.end(), kSystemDiskPath),
            disks_.query_calls.end());
  const auto ids = Ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kSystemDisk), 0);
  EXPECT_FALSE(devices_.Find(kSystemDisk)->disabled);
  for (const std::string& call : devices_.calls) {
    EXPECT_EQ(call.find(kSystemDisk), std::string::npos) << call;
  }
  EXPECT_FALSE(devices_.Find(kSataBay)->disabled);  // a fixed SATA disk likewise
}

TEST_F(StorageMappingTest, SystemDiskOnSdIsNeverReported) {
  // A tablet booting from eMMC: the system disk is on the SD bus.
  disks_.props[kSystemDiskPath] = Props(kStorageBusSd, false);
  disks_.system_disks = {0};
  const auto ids = Ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kSystemDisk), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kSdCard), 1);
  // Even if it says its media is removable, and when the system volume
  // spans two disks.
  disks_.props[kSystemDiskPath] = Props(kStorageBusMmc, true);
  disks_.system_disks = {7, 0};
  const auto again = Ids();
  EXPECT_EQ(std::count(again.begin(), again.end(), kSystemDisk), 0);
}

TEST_F(StorageMappingTest, UnknownSystemDiskMeansNoDiskOfItsOwn) {
  disks_.fail_system = true;
  auto ids = Ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kSdCard), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kFirewire), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kVendorDevice), 1);  // USB is unaffected
  disks_.fail_system = false;
  disks_.system_disks.clear();  // "success" with nothing in it is no answer either
  ids = Ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kSdCard), 0);
  disks_.system_disks = {0};
  disks_.numbers.erase(kSdCardPath);  // the card's own number unknown
  ids = Ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kSdCard), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kFirewire), 1);
}

TEST_F(StorageMappingTest, FirewireAndRemovableSataAreMassStorage) {
  disks_.props[kSataBayPath] = Props(kStorageBusSata, true);
  EXPECT_EQ(Observed(kFirewire).identity.device_class, DeviceClass::kMassStorage);
  EXPECT_EQ(Observed(kFirewire).identity.serial, "0123456789ABCDEF");
  const ObservedDevice bay = Observed(kSataBay);
  EXPECT_EQ(bay.identity.device_class, DeviceClass::kMassStorage);
  EXPECT_EQ(bay.identity.serial, "");  // generated instance part, no descriptor serial
  EXPECT_EQ(Decide(bay).action, Action::kBlock);
}

TEST_F(StorageMappingTest, UsbVendorClassDeviceWithADiskIsBlockedAsStorage) {
  const ObservedDevice dev = Observed(kVendorDevice);
  EXPECT_EQ(dev.identity.VidPid(), "1234:5678");
  EXPECT_EQ(dev.identity.serial, "VND0001");
  EXPECT_EQ(dev.identity.device_class, DeviceClass::kMassStorage);
  EXPECT_TRUE(dev.identity.HasStorage());
  const auto ids = Ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kVendorDisk), 0);  // reported through its device
  const Decision d = Decide(dev);
  ASSERT_EQ(d.action, Action::kBlock);
  ASSERT_TRUE(backend_.Apply(dev, d));
  EXPECT_TRUE(devices_.Find(kVendorDevice)->disabled);

  // Disabled, its disk is gone; the device stays storage, so the core's
  // next decision does not enable it again.
  Unlist(kVendorDiskPath);
  std::erase_if(devices_.nodes, [](const DevNode& n) { return n.instance_id == kVendorDisk; });
  const ObservedDevice again = Observed(kVendorDevice);
  EXPECT_EQ(again.identity.device_class, DeviceClass::kMassStorage);
  ASSERT_TRUE(backend_.Apply(again, Decide(again)));
  EXPECT_TRUE(devices_.Find(kVendorDevice)->disabled);
  EXPECT_EQ(devices_.calls, std::vector<std::string>{std::string("disable ") + kVendorDevice});
}

TEST_F(StorageMappingTest, UsbVendorClassDeviceWithoutADiskIsOther) {
  Unlist(kVendorDiskPath);
  const ObservedDevice dev = Observed(kVendorDevice);
  EXPECT_EQ(dev.identity.device_class, DeviceClass::kOther);
  EXPECT_EQ(Decide(dev).action, Action::kAllow);
}

TEST_F(StorageMappingTest, KeyboardIsUntouched) {
  const ObservedDevice kbd = Observed(kKeyboard);
  EXPECT_EQ(kbd.identity.device_class, DeviceClass::kHid);
  EXPECT_EQ(Decide(kbd).action, Action::kAllow);
  DecideAll();
  EXPECT_FALSE(devices_.Find(kKeyboard)->disabled);
  for (const std::string& call : devices_.calls) {
    EXPECT_EQ(call.find(kKeyboard), std::string::npos) << call;
  }
  // Under the default, exactly the storage is disabled.
  for (const char* id : {kStick, kSdCard, kVendorDevice, kFirewire}) {
    EXPECT_TRUE(devices_.Find(id)->disabled) << id;
  }
  for (const char* id : {kKeyboard, kSystemDisk, kSataBay, kSdHost, kHub}) {
    EXPECT_FALSE(devices_.Find(id)->disabled) << id;
  }
}

TEST_F(StorageMappingTest, VendorInterfaceWithADiskIsSplitOffAsStorage) {
  // A keyboard whose second, vendor-specific interface hides a disk.
  const char kKbd2[] = "USB\\VID_04D9&PID_A0F8\\5&55555555&0&4";
  const char kKbd2Hid[] = "USB\\VID_04D9&PID_A0F8&MI_00\\6&66666666&0&0000";
  const char kKbd2Vendor[] = "USB\\VID_04D9&PID_A0F8&MI_01\\6&66666666&0&0001";
  const char kKbd2Disk[] = "SCSI\\Disk&Ven_Hidden\\8&77777777&0&000000";
  devices_.nodes.push_back({kKbd2, kHub, {}, {"USB\\COMPOSITE"}, false, {}});
  devices_.nodes.push_back({kKbd2Hid, kKbd2, {}, {"USB\\Class_03&SubClass_01&Prot_01"}, false, {}});
  devices_.nodes.push_back(
      {kKbd2Vendor, kKbd2, {}, {"USB\\Class_FF&SubClass_00&Prot_00"}, false, {}});
  devices_.nodes.push_back({kKbd2Disk, kKbd2Vendor, {}, {}, false, {}});
  devices_.interfaces[InterfaceClass::kDisk].push_back({"\\\\?\\SCSI#Hidden#8", kKbd2Disk});
  const ObservedDevice dev = Observed(kKbd2);
  EXPECT_EQ(dev.identity.interface_classes,
            (std::vector<DeviceClass>{DeviceClass::kHid, DeviceClass::kMassStorage}));
  const Decision d = Decide(dev);
  ASSERT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.allowed_interface_classes, std::vector<DeviceClass>{DeviceClass::kHid});
  ASSERT_TRUE(backend_.Apply(dev, d));
  EXPECT_FALSE(devices_.Find(kKbd2)->disabled);
  EXPECT_FALSE(devices_.Find(kKbd2Hid)->disabled);
  EXPECT_TRUE(devices_.Find(kKbd2Vendor)->disabled);
  // With the interface disabled its disk is gone: still split the same way.
  devices_.interfaces[InterfaceClass::kDisk].pop_back();
  const ObservedDevice again = Observed(kKbd2);
  ASSERT_TRUE(backend_.Apply(again, Decide(again)));
  EXPECT_TRUE(devices_.Find(kKbd2Vendor)->disabled);
}

TEST_F(StorageMappingTest, DisabledSdCardIsReportedAfterARestart) {
  devices_.Find(kSdCard)->disabled = true;
  Unlist(kSdCardPath);
  // An SDIO function (Wi-Fi) that someone disabled is not storage.
  devices_.nodes.push_back({"SD\\VID_02D0&PID_4330\\5&99999999&0&1", kSdHost, {}, {}, true, {}});
  WindowsDeviceBackend fresh(devices_, disks_, nullptr);
  std::vector<ObservedDevice> found = fresh.Enumerate();
  const auto it = std::find_if(found.begin(), found.end(),
                               [](const ObservedDevice& d) { return d.device_id == kSdCard; });
  ASSERT_NE(it, found.end());
  EXPECT_EQ(it->identity.device_class, DeviceClass::kCardReader);
  EXPECT_EQ(std::count_if(
                found.begin(), found.end(),
                [](const ObservedDevice& d) { return d.device_id.starts_with("SD\\VID_02D0"); }),
            0);
  Decision allow;
  allow.action = Action::kAllow;
  ASSERT_TRUE(fresh.Apply(*it, allow));
  EXPECT_FALSE(devices_.Find(kSdCard)->disabled);
}

TEST(NearestUsbNodeTest, WalksUpToTheFirstUsbNode) {
  const auto nodes = Tree();
  EXPECT_EQ(NearestUsbNode(kStickDisk, nodes), std::string(kStick));
  EXPECT_EQ(NearestUsbNode(kComboDisk, nodes), std::string(kComboStor));
  EXPECT_EQ(NearestUsbNode(kStick, nodes), std::string(kStick));
  EXPECT_EQ(NearestUsbNode(kSystemDisk, nodes), std::nullopt);
  EXPECT_EQ(NearestUsbNode("SD\\unknown\\1", nodes), std::nullopt);
  std::vector<DevNode> loop = {{"A\\a\\1", "B\\b\\1", {}, {}, false, {}},
                               {"B\\b\\1", "A\\a\\1", {}, {}, false, {}}};
  EXPECT_EQ(NearestUsbNode("A\\a\\1", loop), std::nullopt);
}

TEST(IsAtOrBelowTest, ParentChain) {
  const auto nodes = Tree();
  EXPECT_TRUE(IsAtOrBelow(kComboDisk, kCombo, nodes));
  EXPECT_TRUE(IsAtOrBelow(kCombo, kCombo, nodes));
  EXPECT_TRUE(IsAtOrBelow(kStickDisk, kHub, nodes));
  EXPECT_FALSE(IsAtOrBelow(kComboDisk, kStick, nodes));
  EXPECT_FALSE(IsAtOrBelow(kStick, kStickDisk, nodes));
  EXPECT_FALSE(IsAtOrBelow("USBSTOR\\unknown\\1", kStick, nodes));
}

TEST(IsAtOrBelowTest, LoopsAndDeepChainsEnd) {
  std::vector<DevNode> loop = {{"A\\a\\1", "B\\b\\1", {}, {}, false, {}},
                               {"B\\b\\1", "A\\a\\1", {}, {}, false, {}}};
  EXPECT_FALSE(IsAtOrBelow("A\\a\\1", "C\\c\\1", loop));
  std::vector<DevNode> chain;
  for (int i = 0; i < 100; ++i) {
    chain.push_back(
        {"N\\n\\" + std::to_string(i), "N\\n\\" + std::to_string(i + 1), {}, {}, false, {}});
  }
  EXPECT_TRUE(IsAtOrBelow("N\\n\\0", "N\\n\\5", chain));
  EXPECT_FALSE(IsAtOrBelow("N\\n\\0", "N\\n\\99", chain));  // deeper than any real tree
}

TEST(IdentityFromDevNodesTest, HostileIdsDoNotCrash) {
  std::vector<DevNode> nodes;
  DevNode usb{"USB\\VID_0781&PID_5581\\" + std::string(100000, '\xFF'), "", {}, {}, false, {}};
  nodes.push_back(usb);
  nodes.push_back(
      {std::string(100000, '\\'), usb.instance_id, {}, {std::string(5000, '&')}, false, {}});
  const DeviceIdentity id = IdentityFromDevNodes(usb, nodes);
  EXPECT_EQ(id.vendor_id, 0);  // the oversized id is rejected as a whole
}

// Notification plumbing: events injected through the source's sink reach
// the worker thread, which calls on_change.
class NotificationPlumbingTest : public ::testing::Test {
 protected:
  NotificationPlumbingTest() {
    devices_.nodes = Tree();
    devices_.interfaces[InterfaceClass::kDisk] = {{kStickDiskPath, kStickDisk}};
  }
  void OnChange() {
    std::unique_lock lock(mu_);
    ++changes_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !hold_; });
  }
  // Waits (bounded, so a broken worker fails instead of hanging) until
  // on_change ran `n` times in all.
  bool AwaitChanges(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return changes_ >= n; });
  }
  int changes() {
    std::lock_guard lock(mu_);
    return changes_;
  }
  void Hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
    cv_.notify_all();
  }

  FakeDeviceManager devices_;
  FakeDiskControl disks_;
  FakeNotificationSource source_;
  WindowsDeviceBackend backend_{devices_, disks_, &source_};
  std::mutex mu_;
  std::condition_variable cv_;
  int changes_ = 0;
  bool hold_ = false;
};

TEST_F(NotificationPlumbingTest, InjectedArrivalReachesTheCore) {
  ASSERT_TRUE(backend_.Start([this] { OnChange(); }));
  ASSERT_TRUE(source_.sink);  // registered at Start, before any Enumerate
  (void)backend_.Enumerate();
  source_.sink({DeviceNotification::Kind::kArrival, InterfaceClass::kUsbDevice, "\\\\?\\USB#x"});
  EXPECT_TRUE(AwaitChanges(1));
  backend_.Stop();
  EXPECT_FALSE(source_.sink);
  EXPECT_EQ(source_.stops, 1);
}

TEST_F(NotificationPlumbingTest, ReadOnlyDiskIsProtectedOffTheCallback) {
  ASSERT_TRUE(backend_.Start([this] { OnChange(); }));
  (void)backend_.Enumerate();
  Decision ro;
  ro.action = Action::kReadOnly;
  devices_.interfaces[InterfaceClass::kDisk].clear();
  ObservedDevice stick;
  stick.device_id = kStick;
  ASSERT_TRUE(backend_.Apply(stick, ro));
  devices_.interfaces[InterfaceClass::kDisk] = {{kStickDiskPath, kStickDisk}};
  source_.sink({DeviceNotification::Kind::kArrival, InterfaceClass::kDisk, kStickDiskPath});
  ASSERT_TRUE(AwaitChanges(1));  // the worker protects first, then tells the core
  backend_.Stop();
  EXPECT_TRUE(disks_.read_only.contains(kStickDiskPath));
}

TEST_F(NotificationPlumbingTest, EventsBeforeTheFirstScanAreReplayedAfterIt) {
  ASSERT_TRUE(backend_.Start([this] { OnChange(); }));
  source_.sink({DeviceNotification::Kind::kArrival, InterfaceClass::kUsbDevice, "\\\\?\\USB#x"});
  source_.sink({DeviceNotification::Kind::kRemoval, InterfaceClass::kUsbDevice, "\\\\?\\USB#y"});
  // Held until the core has enumerated once, or handled after it: either
  // way the core hears of them.
  (void)backend_.Enumerate();
  EXPECT_TRUE(AwaitChanges(1));
  backend_.Stop();
}

TEST_F(NotificationPlumbingTest, OverflowBecomesOneFullRecheck) {
  ASSERT_TRUE(backend_.Start([this] { OnChange(); }));
  (void)backend_.Enumerate();
  Hold(true);  // the worker blocks in the first on_change
  const DeviceNotification usb{DeviceNotification::Kind::kArrival, InterfaceClass::kUsbDevice,
                               "\\\\?\\USB#x"};
  source_.sink(usb);
  ASSERT_TRUE(AwaitChanges(1));
  const int queued = static_cast<int>(WindowsDeviceBackend::kMaxQueuedNotifications);
  for (int i = 0; i < queued + 100; ++i) source_.sink(usb);  // never blocks the caller
  Hold(false);
  // One per queued event, plus one for the re-check of what was dropped.
  EXPECT_TRUE(AwaitChanges(1 + queued + 1));
  backend_.Stop();
  EXPECT_EQ(changes(), 1 + queued + 1);
}

TEST_F(NotificationPlumbingTest, NoCallAfterStop) {
  ASSERT_TRUE(backend_.Start([this] { OnChange(); }));
  (void)backend_.Enumerate();
  backend_.Stop();
  backend_.Stop();  // idempotent
  EXPECT_FALSE(source_.sink);
  EXPECT_EQ(changes(), 0);
}

TEST_F(NotificationPlumbingTest, StartFailsWhenTheSourceCannotRegister) {
  source_.fail_start = true;
  const Status s = backend_.Start([this] { OnChange(); });
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("device arrival notifications (fake)"), std::string::npos);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
}

// The ways out of a My Number terminal, with the ids Windows reports for
// real devices, decided and carried out.
DevNode Function(std::string id, std::string parent, std::vector<std::string> compatible,
                 std::string setup_class = "", std::string service = "", uint32_t if_type = 0) {
  DevNode n;
  n.instance_id = std::move(id);
  n.parent_instance_id = std::move(parent);
  n.compatible_ids = std::move(compatible);
  n.driver = {std::move(setup_class), std::move(service), if_type};
  return n;
}

std::vector<std::string> Triple(const std::string& cls, const std::string& sub,
                                const std::string& prot) {
  return {"USB\\Class_" + cls + "&SubClass_" + sub + "&Prot_" + prot,
          "USB\\Class_" + cls + "&SubClass_" + sub, "USB\\Class_" + cls};
}

const std::vector<std::string> kComposite = {"USB\\DevClass_00&SubClass_00&Prot_00",
                                             "USB\\DevClass_00&SubClass_00", "USB\\DevClass_00",
                                             "USB\\COMPOSITE"};
const std::string kNet(kNetSetupClass);
const char kAndroidUsbClass[] = "{3f966bd9-fa04-4ec5-991c-d326973b5128}";
const char kKeyboardClass[] = "{4d36e96b-e325-11ce-bfc1-08002be10318}";
const char kUsbClass[] = "{36fc9e60-c465-11cf-8056-444553540000}";

const char kPixelMtp[] = "USB\\VID_18D1&PID_4EE2\\FA6AJ0305678";
const char kPixelMtpMi0[] = "USB\\VID_18D1&PID_4EE2&MI_00\\7&2a3b4c5d&0&0000";
const char kPixelMtpMi1[] = "USB\\VID_18D1&PID_4EE2&MI_01\\7&2a3b4c5d&0&0001";
const char kTether[] = "USB\\VID_18D1&PID_4EE4\\FA6AJ0305678";
const char kTetherRndis[] = "USB\\VID_18D1&PID_4EE4&MI_00\\7&1f2e3d4c&0&0000";
const char kTetherAdb[] = "USB\\VID_18D1&PID_4EE4&MI_02\\7&1f2e3d4c&0&0002";
const char kRtl8153[] = "USB\\VID_0BDA&PID_8153\\000001000000";
const char kIntelBt[] = "USB\\VID_8087&PID_0026\\5&2c0f5b8e&0&10";
const char kIntelBtEnum[] = "BTHENUM\\{0000110e-0000-1000-8000-00805f9b34fb}_LOCALMFG&0002\\7&1&0";
const char kTpLinkWifi[] = "USB\\VID_2357&PID_010C\\00E04C000001";
const char kScr3310[] = "USB\\VID_04E6&PID_5116\\21120823204587";
const char kFingerprint[] = "USB\\VID_06CB&PID_00BD\\8a9b0c1d2e3f";
const char kKbdNet[] = "USB\\VID_1234&PID_ABCD\\5&3b4c5d6e&0&5";
const char kKbdNetHid[] = "USB\\VID_1234&PID_ABCD&MI_00\\6&4c5d6e7f&0&0000";
const char kKbdNetEcm[] = "USB\\VID_1234&PID_ABCD&MI_01\\6&4c5d6e7f&0&0001";
const char kFtdi[] = "USB\\VID_0403&PID_6001\\A50285BI";
const char kFtdiPort[] = "FTDIBUS\\VID_0403+PID_6001+A50285BIA\\0000";
const char kPlainKeyboard[] = "USB\\VID_046D&PID_C31C\\6&1d2e3f40&0&6";

// What the built-in My Number default decides, written as rules: every way
// out blocked, the card reader and the fingerprint reader allowed, storage
// (MTP and adb included, as still_image) blocked by the storage default.
Policy MyNumberDefault() {
  Policy p;
  p.name = "my-number";
  p.default_storage_action = Action::kBlock;
  p.default_other_action = Action::kAllow;
  Rule ways_out;
  ways_out.name = "block-ways-out";
  ways_out.match.classes = {DeviceClass::kNetwork, DeviceClass::kWifi, DeviceClass::kBluetooth,
                            DeviceClass::kSerial};
  ways_out.action = Action::kBlock;
  Rule needed;
  needed.name = "allow-card-and-fingerprint";
  needed.match.classes = {DeviceClass::kSmartCard, DeviceClass::kBiometric};
  needed.action = Action::kAllow;
  p.rules = {ways_out, needed};
  return p;
}

class WaysOutTest : public ::testing::Test {
 protected:
  WaysOutTest() {
    std::vector<DevNode>& n = devices_.nodes;
    n.push_back({kHub,
                 "PCI\\VEN_8086&DEV_A36D\\3&11583659&0&A0",
                 {"USB\\ROOT_HUB30"},
                 {},
                 false,
                 {kUsbClass, "usbhub3", 0}});
    // Pixel in "File transfer" mode with USB debugging: MTP through the OS
    // descriptor, and adb.
    n.push_back(Function(kPixelMtp, kHub, kComposite, kUsbClass, "usbccgp"));
    n.push_back(Function(kPixelMtpMi0, kPixelMtp,
                         {"USB\\MS_COMP_MTP", "USB\\Class_FF&SubClass_FF&Prot_00",
                          "USB\\Class_FF&SubClass_FF", "USB\\Class_FF"},
                         std::string(kWpdSetupClass), "wudfwpdmtp"));
    n.push_back(
        Function(kPixelMtpMi1, kPixelMtp, Triple("FF", "42", "01"), kAndroidUsbClass, "winusb"));
    // The same phone tethering over RNDIS (with adb).
    n.push_back(Function(kTether, kHub, kComposite, kUsbClass, "usbccgp"));
    n.push_back(Function(kTetherRndis, kTether, Triple("E0", "01", "03"), kNet, "usb_rndisx", 6));
    n.push_back(
        Function(kTetherAdb, kTether, Triple("FF", "42", "01"), kAndroidUsbClass, "winusb"));
    // Realtek RTL8153 USB Ethernet adapter, vendor-specific configuration.
    n.push_back(Function(kRtl8153, kHub, Triple("FF", "FF", "00"), kNet, "rtux64w10", 6));
    // Intel AX201 Bluetooth and a profile node below it.
    n.push_back(Function(kIntelBt, kHub, Triple("E0", "01", "01"),
                         std::string(kBluetoothSetupClass), "bthusb"));
    n.push_back(Function(kIntelBtEnum, kIntelBt, {}, std::string(kBluetoothSetupClass)));
    // TP-Link TL-WN722N v2 Wi-Fi adapter.
    n.push_back(
        Function(kTpLinkWifi, kHub, Triple("FF", "FF", "FF"), kNet, "rtwlanu", kIfTypeIeee80211));
    // SCM SCR3310 CCID reader (My Number card).
    n.push_back(Function(kScr3310, kHub, Triple("0B", "00", "00"),
                         std::string(kSmartCardReaderSetupClass), "wudfrd"));
    // Synaptics fingerprint sensor under the Windows Biometric Framework.
    n.push_back(Function(kFingerprint, kHub, Triple("FF", "00", "00"),
                         std::string(kBiometricSetupClass), "wudfrd"));
    // A keyboard that also offers a CDC ECM network interface.
    n.push_back(Function(kKbdNet, kHub, kComposite, kUsbClass, "usbccgp"));
    n.push_back(Function(kKbdNetHid, kKbdNet, Triple("03", "01", "01"), kKeyboardClass, "kbdhid"));
    n.push_back(Function(kKbdNetEcm, kKbdNet, Triple("02", "06", "00"), kNet, "usbncm", 6));
    // FTDI FT232R: a bus driver on the USB node, the COM port below it.
    n.push_back(Function(kFtdi, kHub, Triple("FF", "FF", "FF"), kUsbClass, "ftdibus"));
    n.push_back(Function(kFtdiPort, kFtdi, {}, std::string(kPortsSetupClass), "ftser2k"));
    n.push_back(Function(kPlainKeyboard, kHub, Triple("03", "01", "01"), kKeyboardClass, "kbdhid"));
  }
  ObservedDevice Observed(std::string_view id) {
    for (ObservedDevice& d : backend_.Enumerate()) {
      if (d.device_id == id) return d;
    }
    ADD_FAILURE() << "not enumerated: " << id;
    return {};
  }
  static Decision Decide(const ObservedDevice& d) {
    return Evaluate(MyNumberDefault(), d.identity, /*now_ms=*/0);
  }
  // Decides and applies every enumerated device, as the core does.
  void DecideAll() {
    for (const ObservedDevice& d : backend_.Enumerate()) {
      const Status s = backend_.Apply(d, Decide(d));
      EXPECT_TRUE(s) << d.device_id << ": " << s.error().message;
    }
  }
  bool Disabled(std::string_view id) { return devices_.Find(id)->disabled; }

  FakeDeviceManager devices_;
  FakeDiskControl disks_;
  WindowsDeviceBackend backend_{devices_, disks_, nullptr};
};

TEST_F(WaysOutTest, PhoneInMtpModeIsStillImageAndDisabledWhole) {
  const ObservedDevice phone = Observed(kPixelMtp);
  EXPECT_EQ(phone.identity.VidPid(), "18d1:4ee2");
  EXPECT_EQ(phone.identity.serial, "FA6AJ0305678");
  EXPECT_EQ(phone.identity.interface_classes, std::vector<DeviceClass>{DeviceClass::kStillImage});
  EXPECT_EQ(phone.identity.device_class, DeviceClass::kStillImage);
  const Decision d = Decide(phone);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "default");
  EXPECT_TRUE(d.allowed_interface_classes.empty());
  ASSERT_TRUE(backend_.Apply(phone, d));
  EXPECT_TRUE(Disabled(kPixelMtp));
}

TEST_F(WaysOutTest, RndisTetheringIsNetworkAndDisabledWhole) {
  const ObservedDevice phone = Observed(kTether);
  EXPECT_EQ(phone.identity.interface_classes,
            (std::vector<DeviceClass>{DeviceClass::kNetwork, DeviceClass::kStillImage}));
  const Decision d = Decide(phone);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "block-ways-out");
  EXPECT_TRUE(d.allowed_interface_classes.empty());  // adb is not allowed on its own either
  ASSERT_TRUE(backend_.Apply(phone, d));
  EXPECT_TRUE(Disabled(kTether));
}

TEST_F(WaysOutTest, UsbEthernetBluetoothWifiAndSerialAreBlocked) {
  const std::vector<std::pair<const char*, DeviceClass>> cases = {
      {kRtl8153, DeviceClass::kNetwork},
      {kIntelBt, DeviceClass::kBluetooth},
      {kTpLinkWifi, DeviceClass::kWifi},
      {kFtdi, DeviceClass::kSerial},
  };
  for (const auto& [id, cls] : cases) {
    const ObservedDevice dev = Observed(id);
    EXPECT_EQ(dev.identity.device_class, cls) << id;
    EXPECT_EQ(dev.identity.interface_classes, std::vector<DeviceClass>{cls}) << id;
    const Decision d = Decide(dev);
    EXPECT_EQ(d.action, Action::kBlock) << id;
    EXPECT_EQ(d.matched_rule, "block-ways-out") << id;
    ASSERT_TRUE(backend_.Apply(dev, d)) << id;
    EXPECT_TRUE(Disabled(id)) << id;
  }
  // The device node is what is disabled; nodes below it go with it.
  EXPECT_FALSE(Disabled(kIntelBtEnum));
  EXPECT_FALSE(Disabled(kFtdiPort));
}

TEST_F(WaysOutTest, CardReaderAndFingerprintReaderStayEnabled) {
  for (const auto& [id, cls] : std::vector<std::pair<const char*, DeviceClass>>{
           {kScr3310, DeviceClass::kSmartCard}, {kFingerprint, DeviceClass::kBiometric}}) {
    const ObservedDevice dev = Observed(id);
    EXPECT_EQ(dev.identity.interface_classes, std::vector<DeviceClass>{cls}) << id;
    const Decision d = Decide(dev);
    EXPECT_EQ(d.action, Action::kAllow) << id;
    EXPECT_EQ(d.matched_rule, "allow-card-and-fingerprint") << id;
  }
  // A reader disabled before (say by an earlier policy) comes back.
  devices_.Find(kScr3310)->disabled = true;
  DecideAll();
  EXPECT_FALSE(Disabled(kScr3310));
  EXPECT_FALSE(Disabled(kFingerprint));
  for (const std::string& call : devices_.calls) {
    EXPECT_EQ(call.find(kFingerprint), std::string::npos) << call;
  }
}

TEST_F(WaysOutTest, KeyboardWithANetworkInterfaceKeepsOnlyTheKeyboard) {
  const ObservedDevice kbd = Observed(kKbdNet);
  EXPECT_EQ(kbd.identity.interface_classes,
            (std::vector<DeviceClass>{DeviceClass::kHid, DeviceClass::kNetwork}));
  // Not taken for a keyboard, which the rule engine would always allow.
  EXPECT_EQ(kbd.identity.device_class, DeviceClass::kNetwork);
  const Decision d = Decide(kbd);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.matched_rule, "block-ways-out");
  EXPECT_EQ(d.allowed_interface_classes, std::vector<DeviceClass>{DeviceClass::kHid});
  ASSERT_TRUE(backend_.Apply(kbd, d));
  EXPECT_FALSE(Disabled(kKbdNet));
  EXPECT_FALSE(Disabled(kKbdNetHid));
  EXPECT_TRUE(Disabled(kKbdNetEcm));
}

TEST_F(WaysOutTest, CardReaderWithAnUnknownVendorFunctionIsNotTakenForACardReader) {
  // A "reader" whose second function is vendor-specific with no driver:
  // the card reader part is known, the other is not, and the device as a
  // whole is judged by the unknown part.
  const char kDual[] = "USB\\VID_1234&PID_0B0B\\5&6a7b8c9d&0&7";
  const char kDualCcid[] = "USB\\VID_1234&PID_0B0B&MI_00\\6&7b8c9d0e&0&0000";
  const char kDualVendor[] = "USB\\VID_1234&PID_0B0B&MI_01\\6&7b8c9d0e&0&0001";
  devices_.nodes.push_back(Function(kDual, kHub, kComposite, kUsbClass, "usbccgp"));
  devices_.nodes.push_back(Function(kDualCcid, kDual, Triple("0B", "00", "00"),
                                    std::string(kSmartCardReaderSetupClass), "wudfrd"));
  devices_.nodes.push_back(Function(kDualVendor, kDual, Triple("FF", "FF", "FF")));
  const ObservedDevice dev = Observed(kDual);
  EXPECT_EQ(dev.identity.interface_classes,
            (std::vector<DeviceClass>{DeviceClass::kSmartCard, DeviceClass::kOther}));
  EXPECT_NE(dev.identity.device_class, DeviceClass::kSmartCard);
}

TEST_F(WaysOutTest, EverythingAtOnceLeavesExactlyWhatStaffNeed) {
  DecideAll();
  for (const char* id : {kPixelMtp, kTether, kRtl8153, kIntelBt, kTpLinkWifi, kFtdi, kKbdNetEcm}) {
    EXPECT_TRUE(Disabled(id)) << id;
  }
  for (const char* id : {kScr3310, kFingerprint, kKbdNet, kKbdNetHid, kPlainKeyboard, kHub}) {
    EXPECT_FALSE(Disabled(id)) << id;
  }
}

TEST_F(WaysOutTest, EthernetAdapterWithoutItsDriverYetIsOtherThenNetwork) {
  // Windows has not installed the Realtek driver yet: class FF says
  // nothing, and `other` is what the policy's other default decides.
  devices_.Find(kRtl8153)->driver = {};
  ObservedDevice nic = Observed(kRtl8153);
  EXPECT_EQ(nic.identity.device_class, DeviceClass::kOther);
  ASSERT_TRUE(backend_.Apply(nic, Decide(nic)));
  EXPECT_FALSE(Disabled(kRtl8153));
  // The driver arrives: the next enumeration sees a network adapter.
  devices_.Find(kRtl8153)->driver = {kNet, "rtux64w10", 6};
  nic = Observed(kRtl8153);
  EXPECT_EQ(nic.identity.device_class, DeviceClass::kNetwork);
  ASSERT_TRUE(backend_.Apply(nic, Decide(nic)));
  EXPECT_TRUE(Disabled(kRtl8153));
}

TEST_F(WaysOutTest, PolicyCanAllowAWayOutByRule) {
  Policy p = MyNumberDefault();
  Rule nic;
  nic.name = "allow-registered-nic";
  nic.match.vendor_id = 0x0bda;
  nic.match.product_id = 0x8153;
  nic.action = Action::kAllow;
  p.rules.insert(p.rules.begin(), nic);
  devices_.Find(kRtl8153)->disabled = true;
  const ObservedDevice dev = Observed(kRtl8153);
  const Decision d = Evaluate(p, dev.identity, 0);
  EXPECT_EQ(d.matched_rule, "allow-registered-nic");
  ASSERT_TRUE(backend_.Apply(dev, d));
  EXPECT_FALSE(Disabled(kRtl8153));
}

}  // namespace
}  // namespace mamori
