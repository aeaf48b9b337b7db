#include "agent/platform/windows/win32/win32_registry.h"

#include <cstring>
#include <vector>

#include "agent/platform/windows/win32/wide_string.h"

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

std::string RegistryValue::Describe() const {
  switch (type) {
    case Type::kMissing:
      return "missing";
    case Type::kDword:
      return std::to_string(dword);
    case Type::kString:
      return "\"" + text + "\"";
    case Type::kOther:
      return "a value of another type";
  }
  return "?";
}

Win32Registry::Win32Registry(HKEY root) : root_(root) {}

Result<RegistryValue> Win32Registry::Read(std::string_view key, std::string_view name) {
  UniqueHkey k;
  LSTATUS rc = ::RegOpenKeyExW(root_, Utf8ToUtf16(key).c_str(), 0,
                               KEY_QUERY_VALUE | KEY_WOW64_64KEY, k.out());
  if (rc == ERROR_FILE_NOT_FOUND) return RegistryValue::Missing();
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("RegOpenKeyExW(" + std::string(key) + ")", rc));
  }
  // One bounded read serves both types: a DWORD is 4 bytes, our strings
  // are short. Anything that does not fit is not a value the agent wrote.
  std::vector<wchar_t> buffer(kMaxRegistryStringChars + 1, L'\0');
  DWORD type = 0;
  DWORD size = static_cast<DWORD>(kMaxRegistryStringChars * sizeof(wchar_t));
  rc = ::RegQueryValueExW(k.get(), Utf8ToUtf16(name).c_str(), nullptr, &type,
                          reinterpret_cast<BYTE*>(buffer.data()), &size);
  // ERROR_KEY_DELETED: another program deleted the key after we opened it;
  // the value is gone as surely as if the open had failed.
  if (rc == ERROR_FILE_NOT_FOUND || rc == ERROR_KEY_DELETED) return RegistryValue::Missing();
  if (rc == ERROR_MORE_DATA) return RegistryValue::Other();
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("RegQueryValueExW(" + std::string(key) + "\\" +
                                                        std::string(name) + ")",
                                                    rc));
  }
  if (type == REG_DWORD && size == sizeof(DWORD)) {
    DWORD data = 0;
    std::memcpy(&data, buffer.data(), sizeof(data));
    return RegistryValue::Dword(data);
  }
  if (type == REG_SZ) {
    // The stored string need not be NUL-terminated (RegQueryValueExW docs).
    return RegistryValue::String(Utf16ToUtf8(UntilNul(buffer.data(), size / sizeof(wchar_t))));
  }
  return RegistryValue::Other();
}

Status Win32Registry::Write(std::string_view key, std::string_view name,
                            const RegistryValue& value) {
  if (value.type == RegistryValue::Type::kOther) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot write a value of unknown type");
  }
  const std::string where = std::string(key) + "\\" + std::string(name);
  UniqueHkey k;
  if (value.type == RegistryValue::Type::kMissing) {
    LSTATUS rc = ::RegOpenKeyExW(root_, Utf8ToUtf16(key).c_str(), 0,
                                 KEY_SET_VALUE | KEY_WOW64_64KEY, k.out());
    if (rc == ERROR_FILE_NOT_FOUND) return Status::Ok();
    if (rc != ERROR_SUCCESS) {
      return MakeError(ErrorCode::kIo,
                       Win32ErrorText("RegOpenKeyExW(" + std::string(key) + ")", rc));
    }
    rc = ::RegDeleteValueW(k.get(), Utf8ToUtf16(name).c_str());
    // The key deleted since it was opened took the value with it.
    if (rc != ERROR_SUCCESS && rc != ERROR_FILE_NOT_FOUND && rc != ERROR_KEY_DELETED) {
      return MakeError(ErrorCode::kIo, Win32ErrorText("RegDeleteValueW(" + where + ")", rc));
    }
    return Status::Ok();
  }
  LSTATUS rc =
      ::RegCreateKeyExW(root_, Utf8ToUtf16(key).c_str(), 0, nullptr, REG_OPTION_NON_VOLATILE,
                        KEY_SET_VALUE | KEY_WOW64_64KEY, nullptr, k.out(), nullptr);
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo,
                     Win32ErrorText("RegCreateKeyExW(" + std::string(key) + ")", rc));
  }
  if (value.type == RegistryValue::Type::kDword) {
    const DWORD data = value.dword;
    rc = ::RegSetValueExW(k.get(), Utf8ToUtf16(name).c_str(), 0, REG_DWORD,
                          reinterpret_cast<const BYTE*>(&data), sizeof(data));
  } else {
    const std::wstring text = Utf8ToUtf16(value.text);
    if (text.size() > kMaxRegistryStringChars) {
      return MakeError(ErrorCode::kInvalidArgument, where + ": string too long");
    }
    rc = ::RegSetValueExW(k.get(), Utf8ToUtf16(name).c_str(), 0, REG_SZ,
                          reinterpret_cast<const BYTE*>(text.c_str()),
                          static_cast<DWORD>((text.size() + 1) * sizeof(wchar_t)));
  }
  if (rc != ERROR_SUCCESS) {
    return MakeError(ErrorCode::kIo, Win32ErrorText("RegSetValueExW(" + where + ")", rc));
  }
  return Status::Ok();
}

}  // namespace mamori
