#include "agent/platform/sim/sim_device_backend.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <vector>

#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

Decision DecisionOf(Action action) {
  Decision d;
  d.action = action;
  return d;
}

using testing::TempDir;
using namespace std::chrono_literals;

constexpr std::string_view kSandisk = R"(vendor_id: "0781"
product_id: "5581"
serial: "4C530001231120115142"
manufacturer: SanDisk
product: Ultra
bus_path: "1-2"
class: mass_storage
interfaces: [mass_storage]
descriptor_hash: "9f2c"
)";

// A logger whose output the test can read.
struct CapturedLog {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>("sim-test", sink);

  std::string Text() const {
    std::string all;
    for (const auto& line : sink->last_formatted()) all += line;
    return all;
  }
};

// Counts on_change calls so a test can wait for the watcher.
class ChangeCounter {
 public:
  std::function<void()> Callback() {
    return [this] {
      std::lock_guard lock(mu_);
      ++count_;
      cv_.notify_all();
    };
  }
  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }
  // Waits until more than `seen` changes were reported.
  bool WaitBeyond(int seen, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ > seen; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

TEST(SimDeviceParseTest, ParsesEveryField) {
  auto d = ParseSimulatedDevice(kSandisk, "stick.yaml", "stick");
  ASSERT_TRUE(d.ok()) << d.error().message;
  const DeviceIdentity& id = d->device.identity;
  EXPECT_EQ(d->device.device_id, "stick");
  EXPECT_EQ(id.vendor_id, 0x0781);
  EXPECT_EQ(id.product_id, 0x5581);
  EXPECT_EQ(id.serial, "4C530001231120115142");
  EXPECT_EQ(id.manufacturer, "SanDisk");
  EXPECT_EQ(id.product, "Ultra");
  EXPECT_EQ(id.bus_path, "1-2");
  EXPECT_EQ(id.device_class, DeviceClass::kMassStorage);
  EXPECT_EQ(id.interface_classes, std::vector<DeviceClass>{DeviceClass::kMassStorage});
  EXPECT_EQ(id.descriptor_hash, "9f2c");
  EXPECT_FALSE(d->fail_enforcement);
}

TEST(SimDeviceParseTest, HexFieldsCarryRawBytes) {
  auto d = ParseSimulatedDevice(R"(vendor_id: "dead"
product_id: "0001"
class: mass_storage
serial_hex: "41 00 ff:fe"
manufacturer_hex: "c3 28"
product_hex: "3c 73 63 72 69 70 74 3e 0a"
fail_enforcement: true
)",
                                "evil.yaml", "evil");
  ASSERT_TRUE(d.ok()) << d.error().message;
  const DeviceIdentity& id = d->device.identity;
  EXPECT_EQ(id.vendor_id, 0xdead);
  EXPECT_EQ(id.product_id, 0x0001);
  EXPECT_EQ(id.serial, std::string("A\0\xff\xfe", 4));
  EXPECT_EQ(id.manufacturer, "\xc3\x28");  // invalid UTF-8, kept as is
  EXPECT_EQ(id.product, "<script>\n");
  EXPECT_TRUE(d->fail_enforcement);
}

struct BadCase {
  const char* yaml;
  const char* expected;  // substring of the error, with line and field
};

class SimDeviceParseErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SimDeviceParseErrorTest, IsLocated) {
  auto d = ParseSimulatedDevice(GetParam().yaml, "dev.yaml", "dev");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find(GetParam().expected), std::string::npos) << d.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, SimDeviceParseErrorTest,
    ::testing::Values(
        BadCase{"vendor_id: \"07g1\"\nproduct_id: \"1\"\nclass: hid\n", "dev.yaml:1:12: vendor_id"},
        BadCase{"vendor_id: \"1\"\nproduct_id: \"12345\"\nclass: hid\n",
                "dev.yaml:2:13: product_id"},
        BadCase{"vendor_id: \"1\"\nproduct_id: \"1\"\nclass: toaster\n", "dev.yaml:3:8: class"},
        BadCase{"vendor_id: \"1\"\nproduct_id: \"1\"\nclass: hid\ninterfaces: [hid, x]\n",
                "dev.yaml:4:19: interfaces[1]"},
        BadCase{"vendor_id: \"1\"\nproduct_id: \"1\"\nclass: hid\nserial_hex: \"4\"\n",
                "dev.yaml:4:13: serial_hex"},
        BadCase{"vendor_id: \"1\"\nproduct_id: \"1\"\nclass: hid\nserial: a\nserial_hex: \"41\"\n",
                "serial_hex: give either"},
        BadCase{"vendor_id: \"1\"\nproduct_id: \"1\"\nclass: hid\ncolour: red\n",
                "dev.yaml:4:1: colour: unknown key"},
        BadCase{"vendor_id: \"1\"\nproduct_id: \"1\"\nclass: hid\nfail_enforcement: maybe\n",
                "dev.yaml:4:19: fail_enforcement"},
        BadCase{"product_id: \"1\"\nclass: hid\n", "vendor_id: required"},
        BadCase{"vendor_id: [1\n", "YAML syntax error"}));

TEST(SimDeviceBackendTest, EnumeratesFilesAndSkipsMalformedOnesWithALoggedError) {
  TempDir dir;
  dir.Write("sandisk.yaml", kSandisk);
  dir.Write("broken.yaml", "vendor_id: \"0781\"\nproduct_id: \"5581\"\nclass: floppy\n");
  dir.Write("notes.txt", "not a device");
  CapturedLog log;
  SimulatedDeviceBackend backend(dir.path(), log.logger);

  auto devices = backend.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].device_id, "sandisk");
  const std::string text = log.Text();
  EXPECT_NE(text.find(dir.File("broken.yaml") + ":3:8: class"), std::string::npos) << text;

  // The same problem is not logged again on every enumeration.
  const std::size_t lines = log.sink->last_formatted().size();
  backend.Enumerate();
  EXPECT_EQ(log.sink->last_formatted().size(), lines);
}

TEST(SimDeviceBackendTest, RefusesOversizedFiles) {
  TempDir dir;
  std::string big(kSandisk);
  big += "# " + std::string(SimulatedDeviceBackend::kMaxFileBytes, 'x') + "\n";
  dir.Write("huge.yaml", big);
  CapturedLog log;
  SimulatedDeviceBackend backend(dir.path(), log.logger);
  EXPECT_TRUE(backend.Enumerate().empty());
  EXPECT_NE(log.Text().find("MiB limit"), std::string::npos) << log.Text();
}

TEST(SimDeviceBackendTest, ApplyRecordsTheActionOrFailsOnRequest) {
  TempDir dir;
  dir.Write("good.yaml", kSandisk);
  dir.Write("bad.yaml", std::string(kSandisk) + "fail_enforcement: true\n");
  CapturedLog log;
  SimulatedDeviceBackend backend(dir.path(), log.logger);
  auto devices = backend.Enumerate();
  ASSERT_EQ(devices.size(), 2u);
  const ObservedDevice& bad = devices[0];
  const ObservedDevice& good = devices[1];
  ASSERT_EQ(bad.device_id, "bad");

  EXPECT_TRUE(backend.Apply(good, DecisionOf(Action::kBlock)).ok());
  EXPECT_EQ(backend.AppliedAction("good"), Action::kBlock);
  Status s = backend.Apply(bad, DecisionOf(Action::kBlock));
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(backend.AppliedAction("bad").has_value());
  EXPECT_FALSE(backend.AppliedDecision("bad").has_value());

  // The whole decision is kept, so tests can see the interfaces kept.
  Decision composite = DecisionOf(Action::kBlock);
  composite.matched_rule = "default";
  composite.allowed_interface_classes = {DeviceClass::kHid};
  EXPECT_TRUE(backend.Apply(good, composite).ok());
  std::optional<Decision> applied = backend.AppliedDecision("good");
  ASSERT_TRUE(applied.has_value());
  EXPECT_EQ(applied->action, Action::kBlock);
  EXPECT_EQ(applied->matched_rule, "default");
  EXPECT_EQ(applied->allowed_interface_classes, std::vector<DeviceClass>{DeviceClass::kHid});

  std::filesystem::remove(dir.File("good.yaml"));
  backend.Enumerate();
  EXPECT_FALSE(backend.Apply(good, DecisionOf(Action::kAllow)).ok());
}

TEST(SimDeviceBackendTest, WatchNoticesDevicesAddedAndRemoved) {
  TempDir dir;
  CapturedLog log;
  SimulatedDeviceBackend backend(dir.path(), log.logger);
  ChangeCounter changes;
  ASSERT_TRUE(backend.Start(changes.Callback()).ok());
  EXPECT_TRUE(backend.Enumerate().empty());

  int seen = changes.count();
  // Written aside and renamed in, the way an atomic writer does it.
  TempDir staging;
  const std::string staged = staging.Write("stick.yaml", kSandisk);
  std::filesystem::copy_file(staged, dir.File(".stick.tmp"));
  std::filesystem::rename(dir.File(".stick.tmp"), dir.File("stick.yaml"));
  ASSERT_TRUE(changes.WaitBeyond(seen));
  auto devices = backend.Enumerate();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].device_id, "stick");

  seen = changes.count();
  std::filesystem::remove(dir.File("stick.yaml"));
  ASSERT_TRUE(changes.WaitBeyond(seen));
  EXPECT_TRUE(backend.Enumerate().empty());

  // Files that are not device files do not wake the agent.
  seen = changes.count();
  dir.Write("readme.txt", "hello");
  EXPECT_FALSE(changes.WaitBeyond(seen, 200ms));
  backend.Stop();
  // After Stop no callback arrives.
  seen = changes.count();
  dir.Write("late.yaml", kSandisk);
  EXPECT_FALSE(changes.WaitBeyond(seen, 200ms));
}

TEST(SimDeviceBackendTest, StartCreatesAMissingDirectoryAndRefusesASecondStart) {
  TempDir dir;
  const std::string devices = dir.File("devices");
  CapturedLog log;
  SimulatedDeviceBackend backend(devices, log.logger);
  ASSERT_TRUE(backend.Start([] {}).ok());
  EXPECT_TRUE(std::filesystem::is_directory(devices));
  EXPECT_FALSE(backend.Start([] {}).ok());
  backend.Stop();
  backend.Stop();  // idempotent
  EXPECT_TRUE(backend.Start([] {}).ok());
}

}  // namespace
}  // namespace mamori
