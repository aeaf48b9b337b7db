#pragma once

#include <string>
#include <string_view>

#include "agent/platform/windows/win32/handles.h"
#include "common/base/result.h"

namespace mamori {

// Access control for the service object and the agent's directories, as
// SDDL so what is granted reads in one line and is compared after a read
// back.

// Who may control the MamoriAgent service: SYSTEM and Administrators get
// every right (stop, pause, reconfigure, delete, change this DACL);
// interactive users may query its configuration and status and read this
// DACL, nothing else. No ACE for anyone else, so Authenticated Users and
// Everyone cannot even query it.
inline constexpr wchar_t kServiceSddl[] =
    L"D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)"
    L"(A;;CCLCSWRC;;;IU)";

// %ProgramData%\Mamori and below (logs, state, configuration): full control
// for SYSTEM and Administrators, inherited by everything created inside,
// and protected, so the permissive ACL of ProgramData (Users may create
// files) is not inherited.
inline constexpr wchar_t kDataDirSddl[] = L"D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

// A security descriptor allocated by the system (LocalAlloc), freed with
// LocalFree.
struct LocalSecurityDescriptorTraits {
  using Handle = PSECURITY_DESCRIPTOR;
  static Handle Invalid() { return nullptr; }
  static bool IsValid(Handle h) { return h != nullptr; }
  static void Close(Handle h) { ::LocalFree(h); }
};
using UniqueSecurityDescriptor = UniqueResource<LocalSecurityDescriptorTraits>;

// ConvertStringSecurityDescriptorToSecurityDescriptorW.
Result<UniqueSecurityDescriptor> SecurityDescriptorFromSddl(std::wstring_view sddl);
// The DACL part of `sd` as SDDL.
Result<std::wstring> DaclToSddl(PSECURITY_DESCRIPTOR sd);
// `sddl` as the system writes it back (flags, rights and SIDs in canonical
// form), to compare with what a read back returns.
Result<std::wstring> CanonicalDaclSddl(std::wstring_view sddl);

// SetServiceObjectSecurity with the DACL of `sddl`; the handle needs
// WRITE_DAC.
Status SetServiceDacl(SC_HANDLE service, std::wstring_view sddl);
// QueryServiceObjectSecurity; the handle needs READ_CONTROL.
Result<std::wstring> ServiceDacl(SC_HANDLE service);

// Creates `dir` if needed (not its parents) and gives it the DACL of
// `sddl` (SetNamedSecurityInfoW; a protected DACL stops inheritance from
// the parent, and the inheritable ACEs propagate to what is inside).
Status CreateProtectedDirectory(const std::wstring& dir, std::wstring_view sddl);
// The DACL of a file or directory (GetNamedSecurityInfoW).
Result<std::wstring> FileDacl(const std::wstring& path);

}  // namespace mamori
