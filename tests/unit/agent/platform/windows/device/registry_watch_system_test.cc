// The registry watch against Wine's registry: RegNotifyChangeKeyValue
// wakes the watcher when another program changes the policy, and the
// watcher restores it.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/platform/windows/device/device_install_restrictions.h"
#include "agent/platform/windows/device/registry_watch.h"
#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"
#include "common/policy/rule_engine.h"

namespace mamori {
namespace {

using std::chrono::milliseconds;
using Wake = RegistryChangeSignal::Wake;

const std::wstring kWatched = Utf8ToUtf16(kPolicyWatchKey);
const std::wstring kDisks = Utf8ToUtf16(std::string(kRemovableStorageDevicesKey) + "\\" +
                                        std::string(kRemovableDisksClass.guid));

void SetDword(const std::wstring& key, const wchar_t* name, DWORD value) {
  UniqueHkey k;
  ASSERT_EQ(::RegCreateKeyExW(HKEY_LOCAL_MACHINE, key.c_str(), 0, nullptr, 0,
                              KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, k.out(), nullptr),
            ERROR_SUCCESS);
  ASSERT_EQ(::RegSetValueExW(k.get(), name, 0, REG_DWORD, reinterpret_cast<const BYTE*>(&value),
                             sizeof(value)),
            ERROR_SUCCESS);
}

DWORD GetDword(const std::wstring& key, const wchar_t* name) {
  DWORD value = 0xDEAD;
  DWORD size = sizeof(value);
  ::RegGetValueW(HKEY_LOCAL_MACHINE, key.c_str(), name, RRF_RT_REG_DWORD | RRF_SUBKEY_WOW6464KEY,
                 nullptr, &value, &size);
  return value;
}

TEST(RegistryChangeSignalSystemTest, ChangeBelowTheKeyWakes) {
  Win32RegistryChangeSignal signal(HKEY_LOCAL_MACHINE, std::string(kPolicyWatchKey));
  ASSERT_TRUE(signal.Arm());
  EXPECT_EQ(signal.Wait(milliseconds(0)), Wake::kTimeout);  // nothing changed yet
  SetDword(kDisks, L"Deny_Write", 0);                       // two levels below
  EXPECT_EQ(signal.Wait(std::chrono::seconds(30)), Wake::kChanged);
  // Re-arming does not read as a change by itself.
  ASSERT_TRUE(signal.Arm());
  EXPECT_EQ(signal.Wait(milliseconds(0)), Wake::kTimeout);
  signal.Stop();
  EXPECT_EQ(signal.Wait(std::chrono::seconds(30)), Wake::kStopped);
}

TEST(RegistryChangeSignalSystemTest, DeletingTheSubtreeWakes) {
  SetDword(kDisks, L"Deny_Read", 1);
  Win32RegistryChangeSignal signal(HKEY_LOCAL_MACHINE, std::string(kPolicyWatchKey));
  ASSERT_TRUE(signal.Arm());
  ASSERT_EQ(::RegDeleteTreeW(HKEY_LOCAL_MACHINE, Utf8ToUtf16(kRemovableStorageDevicesKey).c_str()),
            ERROR_SUCCESS);
  EXPECT_EQ(signal.Wait(std::chrono::seconds(30)), Wake::kChanged);
}

class WatcherSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::RegDeleteTreeW(HKEY_LOCAL_MACHINE, Utf8ToUtf16(kRemovableStorageDevicesKey).c_str());
    ::RegDeleteTreeW(HKEY_LOCAL_MACHINE, Utf8ToUtf16(kDeviceInstallRestrictionsKey).c_str());
  }
  void TearDown() override { watcher_.Stop(); }

  bool AwaitReports(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return reports_.size() >= n; });
  }
  std::vector<RegistryTamperReport> Reports() {
    std::lock_guard lock(mu_);
    return reports_;
  }
  // Until `line` reads back whole and the last report says restored, or
  // 30 s. A change that arrives in pieces may wake the watcher several
  // times, and what each report saw on the way is not fixed; this end
  // state is.
  bool AwaitRestored(const std::vector<RegistryPolicyValue>& line) {
    RegistryPolicyEnforcer enforcer(registry_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      auto drift = enforcer.Verify(line);
      if (drift.ok() && drift->empty()) {
        std::lock_guard lock(mu_);
        if (!reports_.empty() && reports_.back().restored) return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  std::string DescribeReports() {
    std::string out;
    for (const RegistryTamperReport& r : Reports()) out += "\n  " + r.Describe();
    return out;
  }

  Win32Registry registry_;
  Win32RegistryChangeSignal signal_{HKEY_LOCAL_MACHINE, std::string(kPolicyWatchKey)};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RegistryTamperReport> reports_;
  // A period far beyond the test: only change notifications can wake it.
  RegistryPolicyWatcher watcher_{registry_, signal_, std::chrono::hours(1),
                                 [this](const RegistryTamperReport& r) {
                                   std::lock_guard lock(mu_);
                                   reports_.push_back(r);
                                   cv_.notify_all();
                                 }};
};

TEST_F(WatcherSystemTest, TamperingIsNoticedRestoredAndReported) {
  ASSERT_TRUE(watcher_.SetDesired(RegistryLineFor(BuiltinDefaultPolicy())));
  // Written for real, as Windows will read it.
  EXPECT_EQ(GetDword(kDisks, L"Deny_Write"), 1u);
  EXPECT_EQ(GetDword(Utf8ToUtf16(kDeviceInstallRestrictionsKey), L"DenyDeviceClasses"), 1u);
  wchar_t cls[64] = {};
  DWORD size = sizeof(cls);
  ASSERT_EQ(::RegGetValueW(HKEY_LOCAL_MACHINE, Utf8ToUtf16(kDenyDeviceClassesListKey).c_str(), L"1",
                           RRF_RT_REG_SZ | RRF_SUBKEY_WOW6464KEY, nullptr, cls, &size),
            ERROR_SUCCESS);
  EXPECT_EQ(Utf16ToUtf8(cls), kDiskDriveSetupClass);

  watcher_.Start();
  SetDword(kDisks, L"Deny_Write", 0);  // another program turns writing back on
  ASSERT_TRUE(AwaitReports(1)) << "no report within 30 s of the change";
  const RegistryTamperReport r = Reports()[0];
  EXPECT_TRUE(r.restored) << r.Describe();
  ASSERT_FALSE(r.drift.empty());
  EXPECT_EQ(r.drift[0].expected.name, "Deny_Write");
  EXPECT_EQ(r.drift[0].actual, RegistryValue::Dword(0));
  EXPECT_EQ(GetDword(kDisks, L"Deny_Write"), 1u);
}

TEST_F(WatcherSystemTest, DeletedInstallRestrictionsAreRestored) {
  const std::vector<RegistryPolicyValue> line = RegistryLineFor(BuiltinDefaultPolicy());
  ASSERT_TRUE(watcher_.SetDesired(line));
  watcher_.Start();
  // RegDeleteTreeW deletes the list subkey before its parent. When the
  // watcher restores the list in between, the parent has a subkey again
  // and cannot be deleted (ERROR_ACCESS_DENIED): part of the line went
  // either way.
  const LSTATUS deleted =
      ::RegDeleteTreeW(HKEY_LOCAL_MACHINE, Utf8ToUtf16(kDeviceInstallRestrictionsKey).c_str());
  ASSERT_TRUE(deleted == ERROR_SUCCESS || deleted == ERROR_ACCESS_DENIED) << deleted;
  ASSERT_TRUE(AwaitRestored(line))
      << "not whole and reported restored within 30 s; reports:" << DescribeReports();
  watcher_.Stop();  // no report in flight: the last one stays the last
  const std::vector<RegistryTamperReport> reports = Reports();
  EXPECT_TRUE(reports.back().restored) << DescribeReports();
  std::size_t drifted = 0;
  for (const RegistryTamperReport& r : reports) drifted += r.drift.size();
  EXPECT_GE(drifted, 1u);
  EXPECT_EQ(GetDword(Utf8ToUtf16(kDeviceInstallRestrictionsKey), L"DenyDeviceClasses"), 1u);
  EXPECT_EQ(GetDword(Utf8ToUtf16(kDeviceInstallRestrictionsKey), L"DenyDeviceClassesRetroactive"),
            0u);
}

}  // namespace
}  // namespace mamori
