#pragma once

#include <string>

#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/registry.h"

namespace mamori {

// Registry over advapi32 (RegCreateKeyExW, RegQueryValueExW, ...), 64-bit
// view, under `root` (HKEY_LOCAL_MACHINE in production).
class Win32Registry final : public Registry {
 public:
  explicit Win32Registry(HKEY root = HKEY_LOCAL_MACHINE);

  Result<RegistryValue> Read(std::string_view key, std::string_view name) override;
  Status Write(std::string_view key, std::string_view name, const RegistryValue& value) override;

 private:
  HKEY root_;
};

// "RegSetValueExW: Access is denied. (5)": FormatMessage text for a Win32
// error code, in UTF-8.
std::string Win32ErrorText(std::string_view what, DWORD code);

}  // namespace mamori
