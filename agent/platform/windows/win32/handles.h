#pragma once

// clang-format off
#include <windows.h>  // before the SetupAPI and cfgmgr32 headers
// clang-format on
#include <cfgmgr32.h>
#include <setupapi.h>
#include <winsvc.h>

#include "common/base/unique_resource.h"

namespace mamori {

// RAII for the Windows handles the agent owns (house style rule 4).

// Kernel objects (events, files, threads, processes). Both NULL and
// INVALID_HANDLE_VALUE mean "none", since APIs fail with either.
struct KernelHandleTraits {
  using Handle = HANDLE;
  static Handle Invalid() { return nullptr; }
  static bool IsValid(Handle h) { return h != nullptr && h != INVALID_HANDLE_VALUE; }
  static void Close(Handle h) { ::CloseHandle(h); }
};
using UniqueHandle = UniqueResource<KernelHandleTraits>;

// Service control manager and service handles.
struct ScHandleTraits {
  using Handle = SC_HANDLE;
  static Handle Invalid() { return nullptr; }
  static bool IsValid(Handle h) { return h != nullptr; }
  static void Close(Handle h) { ::CloseServiceHandle(h); }
};
using UniqueScHandle = UniqueResource<ScHandleTraits>;

// SetupAPI device information sets.
struct DevInfoTraits {
  using Handle = HDEVINFO;
  static Handle Invalid() { return INVALID_HANDLE_VALUE; }
  static bool IsValid(Handle h) { return h != nullptr && h != INVALID_HANDLE_VALUE; }
  static void Close(Handle h) { ::SetupDiDestroyDeviceInfoList(h); }
};
using UniqueDevInfo = UniqueResource<DevInfoTraits>;

// Registry keys the agent opened. Never wrap a predefined key
// (HKEY_LOCAL_MACHINE, ...): those are not the agent's to close.
struct HkeyTraits {
  using Handle = HKEY;
  static Handle Invalid() { return nullptr; }
  static bool IsValid(Handle h) { return h != nullptr; }
  static void Close(Handle h) { ::RegCloseKey(h); }
};
using UniqueHkey = UniqueResource<HkeyTraits>;

// CM_Register_Notification registrations. The function is resolved at run
// time (cm_notification.h): MinGW's headers do not declare it and Wine's
// cfgmgr32 does not export it, so a static import would stop the whole
// executable from loading there.
struct CmNotificationTraits {
  using Handle = HCMNOTIFICATION;
  static Handle Invalid() { return nullptr; }
  static bool IsValid(Handle h) { return h != nullptr; }
  static void Close(Handle h);
};
using UniqueCmNotification = UniqueResource<CmNotificationTraits>;

}  // namespace mamori
