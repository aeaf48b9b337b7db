#pragma once

#include <map>
#include <string>
#include <utility>

#include "agent/platform/windows/registry.h"

namespace mamori {

// In-memory Registry for the policy logic tests.
class FakeRegistry final : public Registry {
 public:
  Result<RegistryDword> ReadDword(std::string_view key, std::string_view name) override {
    if (fail_reads) return MakeError(ErrorCode::kIo, "read failed");
    const auto it = values.find({std::string(key), std::string(name)});
    return it == values.end() ? RegistryDword::Missing() : it->second;
  }
  Status WriteDword(std::string_view key, std::string_view name, uint32_t value) override {
    ++writes;
    if (fail_writes) return MakeError(ErrorCode::kPermissionDenied, "Access is denied. (5)");
    values[{std::string(key), std::string(name)}] =
        ignore_writes ? RegistryDword::Missing() : RegistryDword::Of(value);
    return Status::Ok();
  }
  Status DeleteValue(std::string_view key, std::string_view name) override {
    values.erase({std::string(key), std::string(name)});
    return Status::Ok();
  }

  std::map<std::pair<std::string, std::string>, RegistryDword> values;
  int writes = 0;
  bool fail_reads = false;
  bool fail_writes = false;
  bool ignore_writes = false;  // a filter driver that swallows writes
};

}  // namespace mamori
