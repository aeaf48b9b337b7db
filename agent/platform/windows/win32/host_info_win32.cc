#include <windows.h>

#include <string>
#include <string_view>

#include "agent/core/host_info.h"

namespace mamori {
namespace {

std::string Narrow(std::wstring_view text) {
  if (text.empty()) return "";
  const int size = ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()),
                                         nullptr, 0, nullptr, nullptr);
  if (size <= 0) return "";
  std::string out(static_cast<std::size_t>(size), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), size,
                        nullptr, nullptr);
  return out;
}

// RtlGetVersion reports the real version; GetVersionExW reports what the
// executable's manifest declares support for.
std::string WindowsVersion() {
  using RtlGetVersionFn = LONG(WINAPI*)(OSVERSIONINFOW*);
  using AnyFn = void (*)();
  HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  if (ntdll == nullptr) return "";
  // void(*)() converts to and from any function pointer type without
  // -Wcast-function-type complaining.
  auto get_version = reinterpret_cast<RtlGetVersionFn>(
      reinterpret_cast<AnyFn>(::GetProcAddress(ntdll, "RtlGetVersion")));
  if (get_version == nullptr) return "";
  OSVERSIONINFOW v{};
  v.dwOSVersionInfoSize = sizeof(v);
  if (get_version(&v) != 0) return "";
  return std::to_string(v.dwMajorVersion) + "." + std::to_string(v.dwMinorVersion) + "." +
         std::to_string(v.dwBuildNumber);
}

std::string Machine() {
  SYSTEM_INFO si{};
  ::GetNativeSystemInfo(&si);
  switch (si.wProcessorArchitecture) {
    case PROCESSOR_ARCHITECTURE_AMD64:
      return "x86_64";
    case PROCESSOR_ARCHITECTURE_ARM64:
      return "aarch64";
    case PROCESSOR_ARCHITECTURE_INTEL:
      return "i686";
    default:
      return "";
  }
}

}  // namespace

HostInfo ReadHostInfo() {
  HostInfo info;
  wchar_t name[256];
  DWORD size = 256;
  if (::GetComputerNameExW(ComputerNameDnsHostname, name, &size)) {
    info.hostname = Narrow(std::wstring_view(name, size));
  }
  std::string os = "Windows";
  if (const std::string version = WindowsVersion(); !version.empty()) os += " " + version;
  if (const std::string machine = Machine(); !machine.empty()) os += " " + machine;
  info.os = os;
  return info;
}

}  // namespace mamori
