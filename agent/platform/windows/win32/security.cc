#include "agent/platform/windows/win32/security.h"

// clang-format off
#include <windows.h>
// clang-format on
#include <aclapi.h>
#include <sddl.h>

#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"

namespace mamori {
namespace {

// A string the system allocated with LocalAlloc.
struct LocalStringTraits {
  using Handle = wchar_t*;
  static Handle Invalid() { return nullptr; }
  static bool IsValid(Handle h) { return h != nullptr; }
  static void Close(Handle h) { ::LocalFree(h); }
};
using UniqueLocalString = UniqueResource<LocalStringTraits>;

Error Win32Failure(std::string_view what, DWORD code, ErrorCode category = ErrorCode::kIo) {
  if (code == ERROR_ACCESS_DENIED) category = ErrorCode::kPermissionDenied;
  return MakeError(category, Win32ErrorText(what, code));
}

}  // namespace

Result<UniqueSecurityDescriptor> SecurityDescriptorFromSddl(std::wstring_view sddl) {
  const std::wstring s(sddl);
  UniqueSecurityDescriptor sd;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(s.c_str(), SDDL_REVISION_1, sd.out(),
                                                              nullptr)) {
    return Win32Failure(
        "ConvertStringSecurityDescriptorToSecurityDescriptorW(" + Utf16ToUtf8(sddl) + ")",
        ::GetLastError(), ErrorCode::kInvalidArgument);
  }
  return sd;
}

Result<std::wstring> DaclToSddl(PSECURITY_DESCRIPTOR sd) {
  UniqueLocalString text;
  if (!::ConvertSecurityDescriptorToStringSecurityDescriptorW(
          sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, text.out(), nullptr)) {
    return Win32Failure("ConvertSecurityDescriptorToStringSecurityDescriptorW", ::GetLastError());
  }
  return std::wstring(text.get());
}

Result<std::wstring> CanonicalDaclSddl(std::wstring_view sddl) {
  auto sd = SecurityDescriptorFromSddl(sddl);
  if (!sd.ok()) return sd.error();
  return DaclToSddl(sd->get());
}

Status SetServiceDacl(SC_HANDLE service, std::wstring_view sddl) {
  auto sd = SecurityDescriptorFromSddl(sddl);
  if (!sd.ok()) return sd.error();
  if (!::SetServiceObjectSecurity(service, DACL_SECURITY_INFORMATION, sd->get())) {
    return Win32Failure("SetServiceObjectSecurity", ::GetLastError());
  }
  return Status::Ok();
}

Result<std::wstring> ServiceDacl(SC_HANDLE service) {
  DWORD needed = 0;
  ::QueryServiceObjectSecurity(service, DACL_SECURITY_INFORMATION, nullptr, 0, &needed);
  DWORD err = ::GetLastError();
  if (needed == 0) return Win32Failure("QueryServiceObjectSecurity", err);
  std::string buffer(needed, '\0');
  if (!::QueryServiceObjectSecurity(service, DACL_SECURITY_INFORMATION, buffer.data(), needed,
                                    &needed)) {
    return Win32Failure("QueryServiceObjectSecurity", ::GetLastError());
  }
  return DaclToSddl(buffer.data());
}

Status CreateProtectedDirectory(const std::wstring& dir, std::wstring_view sddl) {
  if (!::CreateDirectoryW(dir.c_str(), nullptr)) {
    const DWORD err = ::GetLastError();
    if (err != ERROR_ALREADY_EXISTS) {
      return Win32Failure("CreateDirectoryW(" + Utf16ToUtf8(dir) + ")", err);
    }
  }
  auto sd = SecurityDescriptorFromSddl(sddl);
  if (!sd.ok()) return sd.error();
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  PACL dacl = nullptr;
  if (!::GetSecurityDescriptorDacl(sd->get(), &present, &dacl, &defaulted) || !present) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "security descriptor '" + Utf16ToUtf8(sddl) + "' has no DACL");
  }
  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  ::GetSecurityDescriptorControl(sd->get(), &control, &revision);
  SECURITY_INFORMATION info = DACL_SECURITY_INFORMATION;
  if ((control & SE_DACL_PROTECTED) != 0) info |= PROTECTED_DACL_SECURITY_INFORMATION;
  // The API takes a mutable name.
  std::wstring name = dir;
  const DWORD rc =
      ::SetNamedSecurityInfoW(name.data(), SE_FILE_OBJECT, info, nullptr, nullptr, dacl, nullptr);
  if (rc != ERROR_SUCCESS) {
    return Win32Failure("SetNamedSecurityInfoW(" + Utf16ToUtf8(dir) + ")", rc);
  }
  return Status::Ok();
}

Result<std::wstring> FileDacl(const std::wstring& path) {
  UniqueSecurityDescriptor sd;
  const DWORD rc = ::GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION,
                                           nullptr, nullptr, nullptr, nullptr, sd.out());
  if (rc != ERROR_SUCCESS) {
    return Win32Failure("GetNamedSecurityInfoW(" + Utf16ToUtf8(path) + ")", rc);
  }
  return DaclToSddl(sd.get());
}

}  // namespace mamori
