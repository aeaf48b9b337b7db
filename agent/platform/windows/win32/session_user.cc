#include "agent/platform/windows/win32/session_user.h"

// clang-format off
#include <windows.h>
// clang-format on
#include <wtsapi32.h>

#include "agent/platform/windows/win32/wide_string.h"
#include "common/base/sanitize.h"
#include "common/base/unique_resource.h"

namespace mamori {
namespace {

// Buffers WTSQuerySessionInformationW allocates.
struct WtsMemoryTraits {
  using Handle = LPWSTR;
  static Handle Invalid() { return nullptr; }
  static bool IsValid(Handle h) { return h != nullptr; }
  static void Close(Handle h) { ::WTSFreeMemory(h); }
};
using UniqueWtsMemory = UniqueResource<WtsMemoryTraits>;

std::optional<std::string> Query(uint32_t session, WTS_INFO_CLASS what) {
  UniqueWtsMemory buffer;
  DWORD bytes = 0;
  if (!::WTSQuerySessionInformationW(WTS_CURRENT_SERVER_HANDLE, session, what, buffer.out(),
                                     &bytes) ||
      !buffer) {
    return std::nullopt;
  }
  return Utf16ToUtf8(UntilNul(buffer.get(), bytes / sizeof(wchar_t)));
}

class Win32WtsApi final : public WtsApi {
 public:
  std::optional<uint32_t> ActiveConsoleSession() override {
    const DWORD id = ::WTSGetActiveConsoleSessionId();
    if (id == 0xFFFFFFFF) return std::nullopt;
    return id;
  }
  std::optional<std::string> UserName(uint32_t session) override {
    return Query(session, WTSUserName);
  }
  std::optional<std::string> DomainName(uint32_t session) override {
    return Query(session, WTSDomainName);
  }
};

}  // namespace

std::string FormatSessionUser(std::string_view domain, std::string_view user) {
  if (user.empty()) return {};
  std::string out;
  if (!domain.empty()) {
    out.append(domain);
    out += '\\';
  }
  out.append(user);
  return SanitizeDeviceString(out, kMaxSessionUserBytes);
}

WtsApi& SystemWtsApi() {
  static Win32WtsApi api;
  return api;
}

WtsSessionUser::WtsSessionUser(WtsApi* api) : api_(api != nullptr ? api : &SystemWtsApi()) {}

std::string WtsSessionUser::Current() {
  const auto session = api_->ActiveConsoleSession();
  if (!session) return {};
  const auto user = api_->UserName(*session);
  if (!user || user->empty()) return {};
  const auto domain = api_->DomainName(*session);
  return FormatSessionUser(domain ? *domain : std::string_view(), *user);
}

}  // namespace mamori
