#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace mamori {

// What a registry value holds, as far as policy verification cares.
struct RegistryDword {
  enum class State { kMissing, kDword, kOtherType };
  State state = State::kMissing;
  uint32_t value = 0;  // when kDword

  static RegistryDword Missing() { return {}; }
  static RegistryDword Of(uint32_t v) { return {State::kDword, v}; }
  bool operator==(const RegistryDword&) const = default;
};

// HKEY_LOCAL_MACHINE access behind an interface (house style rule 2), so
// the policy logic is tested with a fake and the real one under Wine. Key
// paths are relative to HKLM, '\\'-separated, UTF-8.
class Registry {
 public:
  virtual ~Registry() = default;

  // kMissing when the key or the value does not exist.
  virtual Result<RegistryDword> ReadDword(std::string_view key, std::string_view name) = 0;
  // Creates the key when missing; replaces a value of another type.
  virtual Status WriteDword(std::string_view key, std::string_view name, uint32_t value) = 0;
  // Succeeds when the value (or its key) is already gone.
  virtual Status DeleteValue(std::string_view key, std::string_view name) = 0;
};

}  // namespace mamori
