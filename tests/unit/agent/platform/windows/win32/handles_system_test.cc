// Handle ownership with real Win32 handles under Wine.
#include <gtest/gtest.h>

#include "agent/platform/windows/device/cm_notification.h"
#include "agent/platform/windows/win32/handles.h"

namespace mamori {
namespace {

bool HandleIsOpen(HANDLE h) {
  DWORD flags = 0;
  return ::GetHandleInformation(h, &flags) != 0;
}

TEST(HandlesTest, KernelHandleIsClosedAtScopeExit) {
  HANDLE raw = nullptr;
  {
    UniqueHandle event(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
    ASSERT_TRUE(event);
    raw = event.get();
    EXPECT_TRUE(HandleIsOpen(raw));
  }
  EXPECT_FALSE(HandleIsOpen(raw));
}

TEST(HandlesTest, InvalidHandleValueIsNotOwned) {
  UniqueHandle file(::CreateFileW(L"C:\\does\\not\\exist.txt", GENERIC_READ, 0, nullptr,
                                  OPEN_EXISTING, 0, nullptr));
  EXPECT_FALSE(file);  // INVALID_HANDLE_VALUE, and no CloseHandle on it
}

TEST(HandlesTest, ReleasedHandleStaysOpen) {
  UniqueHandle event(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  HANDLE raw = event.release();
  EXPECT_TRUE(HandleIsOpen(raw));
  UniqueHandle again(raw);
}

TEST(HandlesTest, RegistryKey) {
  UniqueHkey key;
  ASSERT_EQ(::RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE", 0, KEY_READ, key.out()),
            ERROR_SUCCESS);
  EXPECT_TRUE(key);
  DWORD subkeys = 0;
  EXPECT_EQ(::RegQueryInfoKeyW(key.get(), nullptr, nullptr, nullptr, &subkeys, nullptr, nullptr,
                               nullptr, nullptr, nullptr, nullptr, nullptr),
            ERROR_SUCCESS);
  EXPECT_GT(subkeys, 0u);
}

TEST(HandlesTest, DevInfoSet) {
  UniqueDevInfo set(
      ::SetupDiGetClassDevsW(nullptr, nullptr, nullptr, DIGCF_PRESENT | DIGCF_ALLCLASSES));
  EXPECT_TRUE(set);
  UniqueDevInfo empty(INVALID_HANDLE_VALUE);
  EXPECT_FALSE(empty);
}

TEST(HandlesTest, ServiceControlManager) {
  UniqueScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  ASSERT_TRUE(scm) << ::GetLastError();
  UniqueScHandle missing(
      ::OpenServiceW(scm.get(), L"mamori-no-such-service", SERVICE_QUERY_STATUS));
  EXPECT_FALSE(missing);
  EXPECT_EQ(::GetLastError(), static_cast<DWORD>(ERROR_SERVICE_DOES_NOT_EXIST));
}

TEST(HandlesTest, CmNotificationRegistersOrSaysUnavailable) {
  CM_NOTIFY_FILTER filter{};
  filter.cbSize = sizeof(filter);
  filter.FilterType = CM_NOTIFY_FILTER_TYPE_DEVICEINTERFACE;
  filter.Flags = CM_NOTIFY_FILTER_FLAG_ALL_INTERFACE_CLASSES;
  auto n =
      RegisterCmNotification(filter, nullptr,
                             [](HCMNOTIFICATION, PVOID, CM_NOTIFY_ACTION, PCM_NOTIFY_EVENT_DATA,
                                DWORD) -> DWORD { return ERROR_SUCCESS; });
  if (CmNotificationAvailable()) {
    ASSERT_TRUE(n.ok()) << n.error().message;
    EXPECT_TRUE(*n);
  } else {
    // Wine 8: the API is missing, and we say so instead of failing to load.
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.error().code, ErrorCode::kUnavailable);
  }
}

}  // namespace
}  // namespace mamori
