// The registry line against Wine's real registry: write, verify, tamper with
// RegSetValueExW / RegDeleteValueW as another program would, detect, restore.
#include <gtest/gtest.h>

#include <string>

#include "agent/platform/windows/device/registry_policy.h"
#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"

namespace mamori {
namespace {

const std::string kDisksKeyUtf8 =
    std::string(kRemovableStorageDevicesKey) + "\\" + std::string(kRemovableDisksClass.guid);
const std::wstring kDisksKey = Utf8ToUtf16(kDisksKeyUtf8);

UniqueHkey OpenDisksKey() {
  UniqueHkey k;
  EXPECT_EQ(::RegOpenKeyExW(HKEY_LOCAL_MACHINE, kDisksKey.c_str(), 0,
                            KEY_SET_VALUE | KEY_QUERY_VALUE | KEY_WOW64_64KEY, k.out()),
            ERROR_SUCCESS);
  return k;
}

class RegistryPolicySystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Start from nothing, as on a fresh terminal.
    ::RegDeleteTreeW(HKEY_LOCAL_MACHINE, Utf8ToUtf16(kRemovableStorageDevicesKey).c_str());
  }
  Win32Registry registry_;
  RegistryPolicyEnforcer enforcer_{registry_};
  std::vector<RegistryPolicyValue> desired_ = RegistryValuesFor({});
};

TEST_F(RegistryPolicySystemTest, WriteVerifyTamperDetectRestore) {
  ASSERT_TRUE(enforcer_.Apply(desired_));
  auto clean = enforcer_.Verify(desired_);
  ASSERT_TRUE(clean.ok()) << clean.error().message;
  EXPECT_TRUE(clean->empty());

  {
    // Someone turns write access back on and deletes the read denial.
    UniqueHkey k = OpenDisksKey();
    const DWORD zero = 0;
    ASSERT_EQ(::RegSetValueExW(k.get(), L"Deny_Write", 0, REG_DWORD,
                               reinterpret_cast<const BYTE*>(&zero), sizeof(zero)),
              ERROR_SUCCESS);
    ASSERT_EQ(::RegDeleteValueW(k.get(), L"Deny_Read"), ERROR_SUCCESS);
  }

  auto drift = enforcer_.CheckAndRestore(desired_);
  ASSERT_TRUE(drift.ok()) << drift.error().message;
  ASSERT_EQ(drift->size(), 2u);
  EXPECT_EQ((*drift)[0].expected.name, "Deny_Read");
  EXPECT_EQ((*drift)[0].actual, RegistryValue::Missing());
  EXPECT_EQ((*drift)[1].expected.name, "Deny_Write");
  EXPECT_EQ((*drift)[1].actual, RegistryValue::Dword(0));

  // Restored for real: read back with the plain API, not through our code.
  UniqueHkey k = OpenDisksKey();
  DWORD value = 7;
  DWORD size = sizeof(value);
  DWORD type = 0;
  ASSERT_EQ(::RegQueryValueExW(k.get(), L"Deny_Read", nullptr, &type,
                               reinterpret_cast<BYTE*>(&value), &size),
            ERROR_SUCCESS);
  EXPECT_EQ(type, static_cast<DWORD>(REG_DWORD));
  EXPECT_EQ(value, 1u);
  EXPECT_TRUE(enforcer_.Verify(desired_)->empty());
}

TEST_F(RegistryPolicySystemTest, RetypedValueIsDetectedAndRestored) {
  ASSERT_TRUE(enforcer_.Apply(desired_));
  {
    // "1" as text looks right in regedit but is not the DWORD Windows reads;
    // a QWORD is neither.
    UniqueHkey k = OpenDisksKey();
    const wchar_t text[] = L"1";
    ASSERT_EQ(::RegSetValueExW(k.get(), L"Deny_Write", 0, REG_SZ,
                               reinterpret_cast<const BYTE*>(text), sizeof(text)),
              ERROR_SUCCESS);
    const ULONGLONG one = 1;
    ASSERT_EQ(::RegSetValueExW(k.get(), L"Deny_Read", 0, REG_QWORD,
                               reinterpret_cast<const BYTE*>(&one), sizeof(one)),
              ERROR_SUCCESS);
  }
  auto drift = enforcer_.CheckAndRestore(desired_);
  ASSERT_TRUE(drift.ok()) << drift.error().message;
  ASSERT_EQ(drift->size(), 2u);
  EXPECT_EQ((*drift)[0].actual, RegistryValue::Other());  // Deny_Read
  EXPECT_EQ((*drift)[1].actual, RegistryValue::String("1"));
  EXPECT_EQ(*registry_.Read(kDisksKeyUtf8, "Deny_Write"), RegistryValue::Dword(1));
  EXPECT_EQ(*registry_.Read(kDisksKeyUtf8, "Deny_Read"), RegistryValue::Dword(1));
}

TEST_F(RegistryPolicySystemTest, StringValuesRoundTripAndOversizedOnesAreOther) {
  const std::string key = std::string(kRemovableStorageDevicesKey) + "\\{strings}";
  ASSERT_TRUE(
      registry_.Write(key, "1", RegistryValue::String("{4d36e967-e325-11ce-bfc1-08002be10318}")));
  EXPECT_EQ(*registry_.Read(key, "1"),
            RegistryValue::String("{4d36e967-e325-11ce-bfc1-08002be10318}"));
  // Longer than the agent ever writes: not trusted as a string.
  const std::wstring huge(4000, L'x');
  UniqueHkey k;
  ASSERT_EQ(::RegOpenKeyExW(HKEY_LOCAL_MACHINE, Utf8ToUtf16(key).c_str(), 0,
                            KEY_SET_VALUE | KEY_WOW64_64KEY, k.out()),
            ERROR_SUCCESS);
  ASSERT_EQ(::RegSetValueExW(k.get(), L"2", 0, REG_SZ, reinterpret_cast<const BYTE*>(huge.c_str()),
                             static_cast<DWORD>((huge.size() + 1) * sizeof(wchar_t))),
            ERROR_SUCCESS);
  EXPECT_EQ(*registry_.Read(key, "2"), RegistryValue::Other());
  ASSERT_TRUE(registry_.Write(key, "1", RegistryValue::Missing()));
  EXPECT_EQ(*registry_.Read(key, "1"), RegistryValue::Missing());
}

TEST_F(RegistryPolicySystemTest, DeletedKeyIsDetectedAndRestored) {
  ASSERT_TRUE(enforcer_.Apply(desired_));
  ASSERT_EQ(::RegDeleteTreeW(HKEY_LOCAL_MACHINE, Utf8ToUtf16(kRemovableStorageDevicesKey).c_str()),
            ERROR_SUCCESS);
  auto drift = enforcer_.CheckAndRestore(desired_);
  ASSERT_TRUE(drift.ok()) << drift.error().message;
  EXPECT_EQ(drift->size(), desired_.size());
  EXPECT_TRUE(enforcer_.Verify(desired_)->empty());
}

TEST_F(RegistryPolicySystemTest, MissingValueReadsAsMissingAndDeleteIsIdempotent) {
  const std::string key = std::string(kRemovableStorageDevicesKey) + "\\{nonexistent}";
  auto v = registry_.Read(key, "Deny_Read");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, RegistryValue::Missing());
  EXPECT_TRUE(registry_.Write(key, "Deny_Read", RegistryValue::Missing()));
}

}  // namespace
}  // namespace mamori
