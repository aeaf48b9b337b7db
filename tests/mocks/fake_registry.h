#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "agent/platform/windows/win32/registry.h"

namespace mamori {

// In-memory Registry for the policy logic tests.
class FakeRegistry final : public Registry {
 public:
  Result<RegistryValue> Read(std::string_view key, std::string_view name) override {
    ++reads;
    if (fail_reads) return MakeError(ErrorCode::kIo, "read failed");
    const auto it = values.find({std::string(key), std::string(name)});
    return it == values.end() ? RegistryValue::Missing() : it->second;
  }
  Status Write(std::string_view key, std::string_view name, const RegistryValue& value) override {
    ++writes;
    if (fail_writes) return MakeError(ErrorCode::kPermissionDenied, "Access is denied. (5)");
    if (value.type == RegistryValue::Type::kMissing || ignore_writes) {
      values.erase({std::string(key), std::string(name)});
    } else {
      values[{std::string(key), std::string(name)}] = value;
    }
    if (after_write) after_write();
    return Status::Ok();
  }

  std::map<std::pair<std::string, std::string>, RegistryValue> values;
  int reads = 0;
  int writes = 0;
  bool fail_reads = false;
  bool fail_writes = false;
  bool ignore_writes = false;  // a filter driver that swallows writes
  // Runs after each write has landed: another program acting between the
  // agent's calls, such as a deletion still under way.
  std::function<void()> after_write;
};

}  // namespace mamori
