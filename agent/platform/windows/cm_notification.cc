#include "agent/platform/windows/cm_notification.h"

#include <string>

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

}  // namespace

void CmNotificationTraits::Close(HCMNOTIFICATION h) {
  // A valid handle exists only if registration, and so Api(), succeeded.
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

}  // namespace mamori
