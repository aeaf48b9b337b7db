#include "agent/platform/windows/win32_registry.h"

#include "agent/platform/windows/wide_string.h"

namespace mamori {

std::string Win32ErrorText(std::string_view what, DWORD code) {
  wchar_t buffer[512];
  const DWORD n = ::FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                                   nullptr, code, 0, buffer, 512, nullptr);
  std::string text = Utf16ToUtf8(std::wstring_view(buffer, n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::string out(what);
  out += ": ";
  out += text.empty() ? "error" : text;
  out += " (" + std::to_string(code) + ")";
  return out;
}

Win32Registry::Win32Registry(HKEY root) : root_(root) {}

Result<RegistryDword> Win32Registry::ReadDword(std::string_view key, std::string_view name) {
  UniqueHkey k;
  LSTATUS rc = ::RegOpenKeyExW(root_, Utf8ToUtf16(key).c_str(), 0,
                               KEY_QUERY_VALUE | KEY_WOW64_64KEY, k.out());
  if (rc == ERROR_FILE_NOT_FOUND) return RegistryDword::Missing();
  if (rc != ERROR_SUCCESS) return MakeError(ErrorCode::kIo, Win32ErrorText("RegOpenKeyExW", rc));
  DWORD type = 0;
  DWORD data = 0;
  DWORD size = sizeof(data);
  rc = ::RegQueryValueExW(k.get(), Utf8ToUtf16(name).c_str(), nullptr, &type,
                          reinterpret_cast<BYTE*>(&data), &size);
  if (rc == ERROR_FILE_NOT_FOUND) return RegistryDword::Missing();
  // A value too large for a DWORD is, by definition, not our DWORD.
  if (rc == ERROR_MORE_DATA) return RegistryDword{RegistryDword::State::kOtherType, 0};
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("RegQueryValueExW", rc));
  }
  if (type != REG_DWORD || size != sizeof(data)) {
    return RegistryDword{RegistryDword::State::kOtherType, 0};
  }
  return RegistryDword::Of(data);
}

Status Win32Registry::WriteDword(std::string_view key, std::string_view name, uint32_t value) {
  UniqueHkey k;
  LSTATUS rc =
      ::RegCreateKeyExW(root_, Utf8ToUtf16(key).c_str(), 0, nullptr, REG_OPTION_NON_VOLATILE,
                        KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, k.out(), nullptr);
  if (rc != ERROR_SUCCESS) return MakeError(ErrorCode::kIo, Win32ErrorText("RegCreateKeyExW", rc));
  const DWORD data = value;
  rc = ::RegSetValueExW(k.get(), Utf8ToUtf16(name).c_str(), 0, REG_DWORD,
                        reinterpret_cast<const BYTE*>(&data), sizeof(data));
  if (rc != ERROR_SUCCESS) return MakeError(ErrorCode::kIo, Win32ErrorText("RegSetValueExW", rc));
  return Status::Ok();
}

Status Win32Registry::DeleteValue(std::string_view key, std::string_view name) {
  UniqueHkey k;
  LSTATUS rc =
      ::RegOpenKeyExW(root_, Utf8ToUtf16(key).c_str(), 0, KEY_SET_VALUE | KEY_WOW64_64KEY, k.out());
  if (rc == ERROR_FILE_NOT_FOUND) return Status::Ok();
  if (rc != ERROR_SUCCESS) return MakeError(ErrorCode::kIo, Win32ErrorText("RegOpenKeyExW", rc));
  rc = ::RegDeleteValueW(k.get(), Utf8ToUtf16(name).c_str());
  if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("RegDeleteValueW", rc));
  }
  return Status::Ok();
}

}  // namespace mamori
