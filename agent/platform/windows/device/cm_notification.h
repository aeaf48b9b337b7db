#pragma once

// clang-format off
#include <windows.h>
// clang-format on
#include <dbt.h>

#include <cstddef>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "agent/platform/windows/device/device_notification.h"
#include "agent/platform/windows/win32/handles.h"
#include "common/base/result.h"

namespace mamori {

// Device arrival notifications, three ways (device_notification.h):
//
//   CmNotificationSource       CM_Register_Notification (Windows 8 and later).
//                              Resolved at run time: Wine 8's cfgmgr32 does
//                              not export it, and MinGW has no import for it.
//   ServiceNotificationSource  RegisterDeviceNotificationW with the service's
//                              status handle; the SCM delivers the events to
//                              the service's HandlerEx as
//                              SERVICE_CONTROL_DEVICEEVENT, which passes them
//                              to OnServiceDeviceEvent.
//   WindowNotificationSource   RegisterDeviceNotificationW on a hidden
//                              message-only window with its own thread:
//                              console mode, where there is no service.
//
// Which one to use is main's choice:
//   service:  CmNotificationAvailable() ? Cm... : Service...(status_handle)
//   console:  CmNotificationAvailable() ? Cm... : Window...
// Each registers once per class of kWatchedInterfaceClasses.

// True when this Windows has CM_Register_Notification (not Wine 8).
bool CmNotificationAvailable();

// Registers `callback` for the PnP events `filter` selects. The callback
// runs on a system thread pool thread and must not block: it only queues
// work. kUnavailable when the API is missing.
Result<UniqueCmNotification> RegisterCmNotification(const CM_NOTIFY_FILTER& filter, void* context,
                                                    PCM_NOTIFY_CALLBACK callback);

// The interface class GUID of `c`, and back (nullopt for other classes).
const GUID& InterfaceClassGuid(InterfaceClass c);
std::optional<InterfaceClass> InterfaceClassFromGuid(const GUID& guid);

// Longest symbolic link kept from a notification, in UTF-16 units; a longer
// one is cut (it is only used to name the interface, never to open it).
inline constexpr std::size_t kMaxInterfacePathChars = 1024;

// The notification in a CM_Register_Notification callback's arguments, or
// nullopt when it is not an arrival or removal of a watched interface class.
// `size` bounds every read of `data` (the OS-reported EventDataSize).
std::optional<DeviceNotification> ParseCmNotifyEvent(CM_NOTIFY_ACTION action,
                                                     const CM_NOTIFY_EVENT_DATA* data, DWORD size);

// The notification in WM_DEVICECHANGE / SERVICE_CONTROL_DEVICEEVENT
// arguments (DBT_DEVICEARRIVAL / DBT_DEVICEREMOVECOMPLETE with a
// DEV_BROADCAST_DEVICEINTERFACE_W), or nullopt for anything else. Reads
// never go past the header's dbch_size.
std::optional<DeviceNotification> ParseDeviceBroadcast(DWORD event_type, const void* data);

// RegisterDeviceNotificationW registrations.
struct DevNotifyTraits {
  using Handle = HDEVNOTIFY;
  static Handle Invalid() { return nullptr; }
  static bool IsValid(Handle h) { return h != nullptr; }
  static void Close(Handle h) { ::UnregisterDeviceNotification(h); }
};
using UniqueDevNotify = UniqueResource<DevNotifyTraits>;

class CmNotificationSource final : public DeviceNotificationSource {
 public:
  CmNotificationSource() = default;
  ~CmNotificationSource() override { Stop(); }
  CmNotificationSource(const CmNotificationSource&) = delete;
  CmNotificationSource& operator=(const CmNotificationSource&) = delete;

  std::string_view Name() const override { return "cm-notification"; }
  Status Start(DeviceNotificationSink sink) override;
  void Stop() override;

 private:
  static DWORD CALLBACK Callback(HCMNOTIFICATION, PVOID context, CM_NOTIFY_ACTION action,
                                 PCM_NOTIFY_EVENT_DATA data, DWORD size);

  DeviceNotificationSink sink_;  // set before registering, cleared after unregistering
  std::vector<UniqueCmNotification> registrations_;
};

class ServiceNotificationSource final : public DeviceNotificationSource {
 public:
  // `status` is the handle RegisterServiceCtrlHandlerExW returned; the
  // service's HandlerEx must be registered with it.
  explicit ServiceNotificationSource(SERVICE_STATUS_HANDLE status);
  ~ServiceNotificationSource() override { Stop(); }
  ServiceNotificationSource(const ServiceNotificationSource&) = delete;
  ServiceNotificationSource& operator=(const ServiceNotificationSource&) = delete;

  std::string_view Name() const override { return "service-control"; }
  Status Start(DeviceNotificationSink sink) override;
  void Stop() override;

  // For HandlerEx on SERVICE_CONTROL_DEVICEEVENT (dwEventType,
  // lpEventData). Does not block; ignored when not started. HandlerEx then
  // returns NO_ERROR.
  void OnServiceDeviceEvent(DWORD event_type, const void* event_data);

 private:
  const SERVICE_STATUS_HANDLE status_;
  std::mutex mu_;
  DeviceNotificationSink sink_;                 // guarded by mu_
  std::vector<UniqueDevNotify> registrations_;  // guarded by mu_
};

class WindowNotificationSource final : public DeviceNotificationSource {
 public:
  WindowNotificationSource() = default;
  ~WindowNotificationSource() override { Stop(); }
  WindowNotificationSource(const WindowNotificationSource&) = delete;
  WindowNotificationSource& operator=(const WindowNotificationSource&) = delete;

  std::string_view Name() const override { return "window-message"; }
  Status Start(DeviceNotificationSink sink) override;
  void Stop() override;

  // The message-only window (nullptr when not started); tests send it
  // WM_DEVICECHANGE to inject events.
  HWND window() const { return window_; }

 private:
  static LRESULT CALLBACK WindowProc(HWND hwnd, UINT msg, WPARAM wparam, LPARAM lparam);
  void Run(std::promise<Status>& ready);

  DeviceNotificationSink sink_;  // used on the window thread only
  HWND window_ = nullptr;        // written before Start returns
  std::jthread thread_;
};

}  // namespace mamori
