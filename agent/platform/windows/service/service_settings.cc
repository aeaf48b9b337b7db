#include "agent/platform/windows/service/service_settings.h"

// clang-format off
#include <windows.h>
// clang-format on
#include <knownfolders.h>
#include <shlobj.h>

#include <vector>

#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/security.h"
#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"

namespace mamori {
namespace {

// Memory the shell allocated with CoTaskMemAlloc.
struct CoTaskStringTraits {
  using Handle = wchar_t*;
  static Handle Invalid() { return nullptr; }
  static bool IsValid(Handle h) { return h != nullptr; }
  static void Close(Handle h) { ::CoTaskMemFree(h); }
};
using UniqueCoTaskString = UniqueResource<CoTaskStringTraits>;

Status MakeDirectory(const std::wstring& dir) {
  if (::CreateDirectoryW(dir.c_str(), nullptr)) return Status::Ok();
  const DWORD err = ::GetLastError();
  if (err == ERROR_ALREADY_EXISTS) return Status::Ok();
  return MakeError(ErrorCode::kIo,
                   Win32ErrorText("CreateDirectoryW(" + Utf16ToUtf8(dir) + ")", err));
}

}  // namespace

Result<AgentPaths> ResolveAgentPaths(const std::wstring& config_dir) {
  UniqueCoTaskString program_data;
  const HRESULT hr = ::SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, program_data.out());
  if (FAILED(hr)) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("SHGetKnownFolderPath(FOLDERID_ProgramData)",
                                                    static_cast<DWORD>(hr)));
  }
  AgentPaths p;
  p.data_dir = std::wstring(program_data.get()) + L"\\Mamori";
  p.logs_dir = p.data_dir + L"\\logs";
  p.state_dir = p.data_dir + L"\\state";
  p.config_dir = config_dir.empty() ? p.data_dir + L"\\config" : config_dir;
  return p;
}

bool RunningUnderWine() {
  HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

Status PrepareAgentDirectories(const AgentPaths& paths, std::vector<std::string>* warnings) {
  if (Status s = CreateProtectedDirectory(paths.data_dir, kDataDirSddl); !s.ok()) {
    return MakeError(s.error().code, "data directory: " + s.error().message);
  }
  auto expected = CanonicalDaclSddl(kDataDirSddl);
  if (!expected.ok()) return expected.error();
  auto actual = FileDacl(paths.data_dir);
  if (!actual.ok()) {
    return MakeError(actual.error().code, "data directory: " + actual.error().message);
  }
  if (*actual != *expected && RunningUnderWine() && warnings != nullptr) {
    warnings->push_back("Wine keeps no DACL on directories (" + Utf16ToUtf8(paths.data_dir) +
                        " reads back as '" + Utf16ToUtf8(*actual) +
                        "'): the data directory ACL is not in effect");
  } else if (*actual != *expected) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "data directory " + Utf16ToUtf8(paths.data_dir) + ": DACL reads back as '" +
                         Utf16ToUtf8(*actual) + "', expected '" + Utf16ToUtf8(*expected) + "'");
  }
  for (const std::wstring* dir : {&paths.logs_dir, &paths.state_dir}) {
    if (Status s = MakeDirectory(*dir); !s.ok()) return s;
  }
  // A configuration directory elsewhere is the administrator's to protect;
  // the default one inherits the data directory's ACL.
  if (paths.config_dir == paths.data_dir + L"\\config") return MakeDirectory(paths.config_dir);
  return Status::Ok();
}

Status WriteServiceParameters(const ServiceParameters& parameters) {
  UniqueHkey key;
  LSTATUS rc =
      ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kParametersKey, 0, nullptr, REG_OPTION_NON_VOLATILE,
                        KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, key.out(), nullptr);
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegCreateKeyExW(HKLM\\" + Utf16ToUtf8(kParametersKey) + ")",
                                    static_cast<DWORD>(rc)));
  }
  const std::wstring& dir = parameters.config_dir;
  rc = ::RegSetValueExW(key.get(), L"ConfigDir", 0, REG_SZ,
                        reinterpret_cast<const BYTE*>(dir.c_str()),
                        static_cast<DWORD>((dir.size() + 1) * sizeof(wchar_t)));
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegSetValueExW(ConfigDir)", static_cast<DWORD>(rc)));
  }
  const DWORD audit = parameters.audit_only ? 1 : 0;
  rc = ::RegSetValueExW(key.get(), L"AuditOnly", 0, REG_DWORD,
                        reinterpret_cast<const BYTE*>(&audit), sizeof(audit));
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegSetValueExW(AuditOnly)", static_cast<DWORD>(rc)));
  }
  return Status::Ok();
}

Result<ServiceParameters> ReadServiceParameters() {
  ServiceParameters p;
  UniqueHkey key;
  LSTATUS rc = ::RegOpenKeyExW(HKEY_LOCAL_MACHINE, kParametersKey, 0,
                               KEY_QUERY_VALUE | KEY_WOW64_64KEY, key.out());
  if (rc == ERROR_FILE_NOT_FOUND) return p;
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegOpenKeyExW(HKLM\\" + Utf16ToUtf8(kParametersKey) + ")",
                                    static_cast<DWORD>(rc)));
  }
  std::vector<wchar_t> buffer(MAX_PATH * 4);
  DWORD bytes = static_cast<DWORD>(buffer.size() * sizeof(wchar_t));
  rc = ::RegGetValueW(key.get(), nullptr, L"ConfigDir", RRF_RT_REG_SZ, nullptr, buffer.data(),
                      &bytes);
  if (rc == ERROR_SUCCESS) {
    p.config_dir = std::wstring(UntilNul(buffer.data(), buffer.size()));
  } else if (rc != ERROR_FILE_NOT_FOUND) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegGetValueW(ConfigDir)", static_cast<DWORD>(rc)));
  }
  DWORD audit = 0;
  bytes = sizeof(audit);
  rc = ::RegGetValueW(key.get(), nullptr, L"AuditOnly", RRF_RT_REG_DWORD, nullptr, &audit, &bytes);
  if (rc == ERROR_SUCCESS) {
    p.audit_only = audit != 0;
  } else if (rc != ERROR_FILE_NOT_FOUND) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegGetValueW(AuditOnly)", static_cast<DWORD>(rc)));
  }
  return p;
}

Result<std::wstring> OwnExecutablePath() {
  std::vector<wchar_t> buffer(MAX_PATH);
  for (;;) {
    const DWORD n = ::GetModuleFileNameW(nullptr, buffer.data(), static_cast<DWORD>(buffer.size()));
    if (n == 0)
      return MakeError(ErrorCode::kIo, Win32ErrorText("GetModuleFileNameW", ::GetLastError()));
    if (n < buffer.size()) return std::wstring(buffer.data(), n);
    if (buffer.size() >= 32768) {
      return MakeError(ErrorCode::kIo, "GetModuleFileNameW: path longer than 32767 characters");
    }
    buffer.resize(buffer.size() * 2);
  }
}

}  // namespace mamori
