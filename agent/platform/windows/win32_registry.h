#pragma once

#include <string>

#include "agent/platform/windows/handles.h"
#include "agent/platform/windows/registry.h"

namespace mamori {

// Registry over advapi32 (RegCreateKeyExW, RegQueryValueExW, ...), 64-bit
// view, under `root` (HKEY_LOCAL_MACHINE in production).
class Win32Registry final : public Registry {
 public:
  explicit Win32Registry(HKEY root = HKEY_LOCAL_MACHINE);

  Result<RegistryDword> ReadDword(std::string_view key, std::string_view name) override;
  Status WriteDword(std::string_view key, std::string_view name, uint32_t value) override;
  Status DeleteValue(std::string_view key, std::string_view name) override;

 private:
  HKEY root_;
};

// "RegSetValueExW: Access is denied. (5)": FormatMessage text for a Win32
// error code, in UTF-8.
std::string Win32ErrorText(std::string_view what, DWORD code);

}  // namespace mamori
