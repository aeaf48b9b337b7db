#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/base/result.h"

namespace mamori {

// What a registry value holds, as far as policy verification cares: a
// DWORD, a REG_SZ string, nothing, or something else (another type, or a
// string longer than kMaxRegistryStringChars).
struct RegistryValue {
  enum class Type { kMissing, kDword, kString, kOther };
  Type type = Type::kMissing;
  uint32_t dword = 0;  // when kDword
  std::string text;    // when kString, UTF-8

  static RegistryValue Missing() { return {}; }
  static RegistryValue Dword(uint32_t v) { return {Type::kDword, v, {}}; }
  static RegistryValue String(std::string s) { return {Type::kString, 0, std::move(s)}; }
  static RegistryValue Other() { return {Type::kOther, 0, {}}; }
  bool operator==(const RegistryValue&) const = default;

  // "1", "\"{4d36e967-...}\"", "missing", "a value of another type".
  std::string Describe() const;
};

// Longest REG_SZ the agent reads, in UTF-16 units; its own values (class
// GUIDs) are far shorter.
inline constexpr std::size_t kMaxRegistryStringChars = 512;

// HKEY_LOCAL_MACHINE access behind an interface (house style rule 2), so
// the policy logic is tested with a fake and the real one under Wine. Key
// paths are relative to the root, '\\'-separated, UTF-8.
class Registry {
 public:
  virtual ~Registry() = default;

  // kMissing when the key or the value does not exist.
  virtual Result<RegistryValue> Read(std::string_view key, std::string_view name) = 0;
  // kDword and kString create the key when missing and replace a value of
  // another type; kMissing deletes the value and succeeds when it (or its
  // key) is already gone. kOther is an invalid argument.
  virtual Status Write(std::string_view key, std::string_view name, const RegistryValue& value) = 0;
};

}  // namespace mamori
