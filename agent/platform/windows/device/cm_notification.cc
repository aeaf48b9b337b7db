#include "agent/platform/windows/device/cm_notification.h"

#include <algorithm>
#include <string>
#include <utility>

#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"

namespace mamori {
namespace {

using RegisterFn = CONFIGRET(WINAPI*)(PCM_NOTIFY_FILTER, PVOID, PCM_NOTIFY_CALLBACK,
                                      PHCMNOTIFICATION);
using UnregisterFn = CONFIGRET(WINAPI*)(HCMNOTIFICATION);
using AnyFn = void (*)();

struct CmApi {
  RegisterFn register_fn = nullptr;
  UnregisterFn unregister_fn = nullptr;
};

template <typename Fn>
Fn Resolve(HMODULE module, const char* name) {
  // void(*)() converts to and from any function pointer type without
  // -Wcast-function-type complaining; the real signature is the SDK's.
  return reinterpret_cast<Fn>(reinterpret_cast<AnyFn>(::GetProcAddress(module, name)));
}

const CmApi& Api() {
  static const CmApi api = [] {
    CmApi a;
    // cfgmgr32 stays loaded for the life of the process: handles may
    // outlive any scope that could unload it.
    if (HMODULE m = ::LoadLibraryW(L"cfgmgr32.dll")) {
      a.register_fn = Resolve<RegisterFn>(m, "CM_Register_Notification");
      a.unregister_fn = Resolve<UnregisterFn>(m, "CM_Unregister_Notification");
    }
    if (a.register_fn == nullptr || a.unregister_fn == nullptr) a = CmApi{};
    return a;
  }();
  return api;
}

// The SDK's GUID_DEVINTERFACE_* values, spelled out: DEFINE_GUID needs
// INITGUID in exactly one unit, and the WPD one is in no MinGW header.
constexpr GUID kUsbDeviceGuid{
    0xA5DCBF10, 0x6530, 0x11D2, {0x90, 0x1F, 0x00, 0xC0, 0x4F, 0xB9, 0x51, 0xED}};
constexpr GUID kDiskGuid{
    0x53F56307, 0xB6BF, 0x11D0, {0x94, 0xF2, 0x00, 0xA0, 0xC9, 0x1E, 0xFB, 0x8B}};
constexpr GUID kVolumeGuid{
    0x53F5630D, 0xB6BF, 0x11D0, {0x94, 0xF2, 0x00, 0xA0, 0xC9, 0x1E, 0xFB, 0x8B}};
constexpr GUID kCdRomGuid{
    0x53F56308, 0xB6BF, 0x11D0, {0x94, 0xF2, 0x00, 0xA0, 0xC9, 0x1E, 0xFB, 0x8B}};
constexpr GUID kWpdGuid{
    0x6AC27878, 0xA6FA, 0x4155, {0xBA, 0x85, 0xF9, 0x8F, 0x49, 0x1D, 0x4F, 0x33}};
constexpr GUID kNetGuid{
    0xCAC88484, 0x7515, 0x4C03, {0x82, 0xE6, 0x71, 0xA8, 0x7A, 0xBA, 0xC3, 0x61}};
constexpr GUID kComPortGuid{
    0x86E0D1E0, 0x8089, 0x11D0, {0x9C, 0xE4, 0x08, 0x00, 0x3E, 0x30, 0x1F, 0x73}};
constexpr GUID kModemGuid{
    0x2C7089AA, 0x2E0E, 0x11D1, {0xB1, 0x14, 0x00, 0xC0, 0x4F, 0xC2, 0xAA, 0xE4}};
constexpr GUID kBluetoothGuid{
    0x0850302A, 0xB344, 0x4FDA, {0x9B, 0xE9, 0x90, 0x57, 0x6B, 0x8D, 0x46, 0xF0}};

std::string PathFrom(const wchar_t* name, std::size_t available_chars) {
  return Utf16ToUtf8(UntilNul(name, std::min(available_chars, kMaxInterfacePathChars)));
}

DEV_BROADCAST_DEVICEINTERFACE_W InterfaceFilter(InterfaceClass c) {
  DEV_BROADCAST_DEVICEINTERFACE_W filter{};
  filter.dbcc_size = sizeof(filter);
  filter.dbcc_devicetype = DBT_DEVTYP_DEVICEINTERFACE;
  filter.dbcc_classguid = InterfaceClassGuid(c);
  return filter;
}

// One RegisterDeviceNotificationW per watched class, all or nothing.
Result<std::vector<UniqueDevNotify>> RegisterBroadcasts(HANDLE recipient, DWORD flags) {
  std::vector<UniqueDevNotify> out;
  for (InterfaceClass c : kWatchedInterfaceClasses) {
    DEV_BROADCAST_DEVICEINTERFACE_W filter = InterfaceFilter(c);
    UniqueDevNotify n(::RegisterDeviceNotificationW(recipient, &filter, flags));
    if (!n) {
      return MakeError(
          ErrorCode::kUnavailable,
          Win32ErrorText("RegisterDeviceNotificationW(" + std::string(InterfaceClassName(c)) + ")",
                         ::GetLastError()));
    }
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace

std::string_view InterfaceClassName(InterfaceClass c) {
  switch (c) {
    case InterfaceClass::kUsbDevice:
      return "usb_device";
    case InterfaceClass::kDisk:
      return "disk";
    case InterfaceClass::kVolume:
      return "volume";
    case InterfaceClass::kCdRom:
      return "cdrom";
    case InterfaceClass::kWpd:
      return "wpd";
    case InterfaceClass::kNet:
      return "net";
    case InterfaceClass::kComPort:
      return "comport";
    case InterfaceClass::kModem:
      return "modem";
    case InterfaceClass::kBluetooth:
      return "bluetooth";
  }
  return "unknown";
}

bool IsStorageInterface(InterfaceClass c) {
  return c == InterfaceClass::kDisk || c == InterfaceClass::kVolume ||
         c == InterfaceClass::kCdRom || c == InterfaceClass::kWpd;
}

void CmNotificationTraits::Close(HCMNOTIFICATION h) {
  // A valid handle exists only if registration, and so Api(), succeeded.
  // CM_Unregister_Notification waits for running callbacks to return.
  Api().unregister_fn(h);
}

bool CmNotificationAvailable() { return Api().register_fn != nullptr; }

Result<UniqueCmNotification> RegisterCmNotification(const CM_NOTIFY_FILTER& filter, void* context,
                                                    PCM_NOTIFY_CALLBACK callback) {
  if (!CmNotificationAvailable()) {
    return MakeError(ErrorCode::kUnavailable,
                     "CM_Register_Notification is not available on this system");
  }
  CM_NOTIFY_FILTER copy = filter;
  UniqueCmNotification n;
  const CONFIGRET cr = Api().register_fn(&copy, context, callback, n.out());
  if (cr != CR_SUCCESS) {
    return MakeError(ErrorCode::kInternal,
                     "CM_Register_Notification failed: CONFIGRET " + std::to_string(cr));
  }
  return n;
}

const GUID& InterfaceClassGuid(InterfaceClass c) {
  switch (c) {
    case InterfaceClass::kUsbDevice:
      return kUsbDeviceGuid;
    case InterfaceClass::kDisk:
      return kDiskGuid;
    case InterfaceClass::kVolume:
      return kVolumeGuid;
    case InterfaceClass::kCdRom:
      return kCdRomGuid;
    case InterfaceClass::kWpd:
      return kWpdGuid;
    case InterfaceClass::kNet:
      return kNetGuid;
    case InterfaceClass::kComPort:
      return kComPortGuid;
    case InterfaceClass::kModem:
      return kModemGuid;
    case InterfaceClass::kBluetooth:
      return kBluetoothGuid;
  }
  return kUsbDeviceGuid;
}

std::optional<InterfaceClass> InterfaceClassFromGuid(const GUID& guid) {
  for (InterfaceClass c : kWatchedInterfaceClasses) {
    if (::IsEqualGUID(guid, InterfaceClassGuid(c))) return c;
  }
  return std::nullopt;
}

std::optional<DeviceNotification> ParseCmNotifyEvent(CM_NOTIFY_ACTION action,
                                                     const CM_NOTIFY_EVENT_DATA* data, DWORD size) {
  DeviceNotification n;
  if (action == CM_NOTIFY_ACTION_DEVICEINTERFACEARRIVAL) {
    n.kind = DeviceNotification::Kind::kArrival;
  } else if (action == CM_NOTIFY_ACTION_DEVICEINTERFACEREMOVAL) {
    n.kind = DeviceNotification::Kind::kRemoval;
  } else {
    return std::nullopt;
  }
  constexpr std::size_t kLinkOffset =
      offsetof(CM_NOTIFY_EVENT_DATA, u.DeviceInterface.SymbolicLink);
  if (data == nullptr || size < kLinkOffset ||
      data->FilterType != CM_NOTIFY_FILTER_TYPE_DEVICEINTERFACE) {
    return std::nullopt;
  }
  const auto cls = InterfaceClassFromGuid(data->u.DeviceInterface.ClassGuid);
  if (!cls) return std::nullopt;
  n.cls = *cls;
  n.path = PathFrom(data->u.DeviceInterface.SymbolicLink, (size - kLinkOffset) / sizeof(WCHAR));
  return n;
}

std::optional<DeviceNotification> ParseDeviceBroadcast(DWORD event_type, const void* data) {
  DeviceNotification n;
  if (event_type == DBT_DEVICEARRIVAL) {
    n.kind = DeviceNotification::Kind::kArrival;
  } else if (event_type == DBT_DEVICEREMOVECOMPLETE) {
    n.kind = DeviceNotification::Kind::kRemoval;
  } else {
    return std::nullopt;
  }
  const auto* header = static_cast<const DEV_BROADCAST_HDR*>(data);
  constexpr std::size_t kNameOffset = offsetof(DEV_BROADCAST_DEVICEINTERFACE_W, dbcc_name);
  if (header == nullptr || header->dbch_devicetype != DBT_DEVTYP_DEVICEINTERFACE ||
      header->dbch_size < kNameOffset) {
    return std::nullopt;
  }
  const auto* iface = static_cast<const DEV_BROADCAST_DEVICEINTERFACE_W*>(data);
  const auto cls = InterfaceClassFromGuid(iface->dbcc_classguid);
  if (!cls) return std::nullopt;
  n.cls = *cls;
  n.path = PathFrom(iface->dbcc_name, (header->dbch_size - kNameOffset) / sizeof(wchar_t));
  return n;
}

// --- CmNotificationSource ---

Status CmNotificationSource::Start(DeviceNotificationSink sink) {
  Stop();
  sink_ = std::move(sink);
  for (InterfaceClass c : kWatchedInterfaceClasses) {
    CM_NOTIFY_FILTER filter{};
    filter.cbSize = sizeof(filter);
    filter.FilterType = CM_NOTIFY_FILTER_TYPE_DEVICEINTERFACE;
    filter.u.DeviceInterface.ClassGuid = InterfaceClassGuid(c);
    auto n = RegisterCmNotification(filter, this, &CmNotificationSource::Callback);
    if (!n.ok()) {
      Stop();
      return MakeError(n.error().code, "watching " + std::string(InterfaceClassName(c)) +
                                           " interfaces: " + n.error().message);
    }
    registrations_.push_back(std::move(*n));
  }
  return Status::Ok();
}

void CmNotificationSource::Stop() {
  registrations_.clear();  // waits for callbacks in flight
  sink_ = nullptr;
}

DWORD CALLBACK CmNotificationSource::Callback(HCMNOTIFICATION, PVOID context,
                                              CM_NOTIFY_ACTION action, PCM_NOTIFY_EVENT_DATA data,
                                              DWORD size) {
  auto* self = static_cast<CmNotificationSource*>(context);
  if (auto n = ParseCmNotifyEvent(action, data, size); n && self->sink_) self->sink_(*n);
  return ERROR_SUCCESS;
}

// --- ServiceNotificationSource ---

ServiceNotificationSource::ServiceNotificationSource(SERVICE_STATUS_HANDLE status)
    : status_(status) {}

Status ServiceNotificationSource::Start(DeviceNotificationSink sink) {
  Stop();
  // SERVICE_STATUS_HANDLE is the recipient RegisterDeviceNotificationW
  // takes with DEVICE_NOTIFY_SERVICE_HANDLE.
  auto regs = RegisterBroadcasts(reinterpret_cast<HANDLE>(status_), DEVICE_NOTIFY_SERVICE_HANDLE);
  if (!regs.ok()) return regs.error();
  std::lock_guard lock(mu_);
  sink_ = std::move(sink);
  registrations_ = std::move(*regs);
  return Status::Ok();
}

void ServiceNotificationSource::Stop() {
  std::lock_guard lock(mu_);
  registrations_.clear();
  sink_ = nullptr;
}

void ServiceNotificationSource::OnServiceDeviceEvent(DWORD event_type, const void* event_data) {
  const auto n = ParseDeviceBroadcast(event_type, event_data);
  if (!n) return;
  std::lock_guard lock(mu_);
  if (sink_) sink_(*n);
}

// --- WindowNotificationSource ---

namespace {
constexpr wchar_t kWindowClass[] = L"MamoriDeviceNotification";
}  // namespace

Status WindowNotificationSource::Start(DeviceNotificationSink sink) {
  Stop();
  sink_ = std::move(sink);
  std::promise<Status> ready;
  std::future<Status> started = ready.get_future();
  thread_ = std::jthread([this, &ready] { Run(ready); });
  Status s = started.get();
  if (!s) {
    thread_.join();
    sink_ = nullptr;
  }
  return s;
}

void WindowNotificationSource::Stop() {
  if (!thread_.joinable()) return;
  ::PostMessageW(window_, WM_CLOSE, 0, 0);
  thread_.join();
  window_ = nullptr;
  sink_ = nullptr;
}

void WindowNotificationSource::Run(std::promise<Status>& ready) {
  const HINSTANCE instance = ::GetModuleHandleW(nullptr);
  WNDCLASSEXW wc{};
  wc.cbSize = sizeof(wc);
  wc.lpfnWndProc = &WindowNotificationSource::WindowProc;
  wc.hInstance = instance;
  wc.lpszClassName = kWindowClass;
  if (!::RegisterClassExW(&wc) && ::GetLastError() != ERROR_CLASS_ALREADY_EXISTS) {
    ready.set_value(
        MakeError(ErrorCode::kUnavailable, Win32ErrorText("RegisterClassExW", ::GetLastError())));
    return;
  }
  const HWND hwnd = ::CreateWindowExW(0, kWindowClass, L"", 0, 0, 0, 0, 0, HWND_MESSAGE, nullptr,
                                      instance, nullptr);
  if (hwnd == nullptr) {
    ready.set_value(MakeError(ErrorCode::kUnavailable,
                              Win32ErrorText("CreateWindowExW(HWND_MESSAGE)", ::GetLastError())));
    return;
  }
  ::SetWindowLongPtrW(hwnd, GWLP_USERDATA, reinterpret_cast<LONG_PTR>(this));
  auto regs = RegisterBroadcasts(hwnd, DEVICE_NOTIFY_WINDOW_HANDLE);
  if (!regs.ok()) {
    ::DestroyWindow(hwnd);
    ready.set_value(regs.error());
    return;
  }
  window_ = hwnd;
  ready.set_value(Status::Ok());  // `ready` is gone after this

  MSG msg;
  while (::GetMessageW(&msg, nullptr, 0, 0) > 0) {
    ::TranslateMessage(&msg);
    ::DispatchMessageW(&msg);
  }
  regs->clear();
  ::DestroyWindow(hwnd);
}

LRESULT CALLBACK WindowNotificationSource::WindowProc(HWND hwnd, UINT msg, WPARAM wparam,
                                                      LPARAM lparam) {
  auto* self =
      reinterpret_cast<WindowNotificationSource*>(::GetWindowLongPtrW(hwnd, GWLP_USERDATA));
  switch (msg) {
    case WM_DEVICECHANGE:
      if (self != nullptr && self->sink_) {
        // lparam points at the broadcast only for the duration of the call.
        if (auto n = ParseDeviceBroadcast(static_cast<DWORD>(wparam),
                                          reinterpret_cast<const void*>(lparam))) {
          self->sink_(*n);
        }
      }
      return TRUE;
    case WM_CLOSE:
      ::PostQuitMessage(0);
      return 0;
    default:
      return ::DefWindowProcW(hwnd, msg, wparam, lparam);
  }
}

}  // namespace mamori
