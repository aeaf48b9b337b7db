#include "agent/platform/windows/device/registry_policy.h"

#include <algorithm>

#include "agent/platform/windows/device/device_install_restrictions.h"

namespace mamori {
namespace {

// Higher is more permissive.
int Permissiveness(Action a) {
  switch (a) {
    case Action::kAllow:
      return 2;
    case Action::kReadOnly:
      return 1;
    case Action::kBlock:
    case Action::kUnspecified:
      return 0;
  }
  return 0;
}

Action Relax(Action current, const Policy& policy, std::initializer_list<DeviceClass> classes) {
  for (const Rule& rule : policy.rules) {
    if (Permissiveness(rule.action) <= Permissiveness(current)) continue;
    const auto& want = rule.match.classes;
    const bool could_match =
        want.empty() || std::any_of(classes.begin(), classes.end(), [&](DeviceClass c) {
          return std::find(want.begin(), want.end(), c) != want.end();
        });
    if (could_match) current = rule.action;
  }
  return current;
}

void AddClass(std::vector<RegistryPolicyValue>& out, const RemovableStorageClass& cls,
              Action action) {
  const std::string key = std::string(kRemovableStorageDevicesKey) + "\\" + std::string(cls.guid);
  const bool deny_write = action != Action::kAllow;
  const bool deny_read = action != Action::kAllow && action != Action::kReadOnly;
  out.push_back({key, std::string(kDenyRead), RegistryValue::Dword(deny_read ? 1u : 0u)});
  out.push_back({key, std::string(kDenyWrite), RegistryValue::Dword(deny_write ? 1u : 0u)});
}

}  // namespace

RemovableStorageAccess DeriveRemovableStorageAccess(const Policy& policy) {
  const Action base = policy.default_storage_action == Action::kUnspecified
                          ? Action::kBlock
                          : policy.default_storage_action;
  RemovableStorageAccess a;
  a.removable_disks = Relax(base, policy, {DeviceClass::kMassStorage, DeviceClass::kCardReader});
  a.cd_dvd = Relax(base, policy, {DeviceClass::kOptical, DeviceClass::kMassStorage});
  a.wpd = Relax(base, policy, {DeviceClass::kStillImage});
  return a;
}

std::vector<RegistryPolicyValue> RegistryValuesFor(const RemovableStorageAccess& access) {
  std::vector<RegistryPolicyValue> out;
  AddClass(out, kRemovableDisksClass, access.removable_disks);
  AddClass(out, kCdDvdClass, access.cd_dvd);
  AddClass(out, kWpdClass, access.wpd);
  AddClass(out, kWpdMediaClass, access.wpd);
  return out;
}

RemovableStorageAccess RelaxForExceptions(RemovableStorageAccess access,
                                          const ExceptionAllowance& allowance) {
  if (allowance.empty()) return access;
  const auto has = [&](std::initializer_list<DeviceClass> classes) {
    return std::any_of(classes.begin(), classes.end(), [&](DeviceClass c) {
      return std::find(allowance.classes.begin(), allowance.classes.end(), c) !=
             allowance.classes.end();
    });
  };
  // Only the ADMX class the device itself is: a stick does not open CD/DVD.
  if (has({DeviceClass::kMassStorage, DeviceClass::kCardReader})) {
    access.removable_disks = Action::kAllow;
  }
  if (has({DeviceClass::kOptical})) access.cd_dvd = Action::kAllow;
  if (has({DeviceClass::kStillImage})) access.wpd = Action::kAllow;
  return access;
}

std::vector<RegistryPolicyValue> RegistryLineFor(const Policy& policy,
                                                 const ExceptionAllowance& allowance) {
  const RemovableStorageAccess access = DeriveRemovableStorageAccess(policy);
  std::vector<RegistryPolicyValue> out = RegistryValuesFor(RelaxForExceptions(access, allowance));
  for (RegistryPolicyValue& v : DeviceInstallValuesFor(access, allowance.instance_ids)) {
    out.push_back(std::move(v));
  }
  return out;
}

std::string RegistryDrift::Describe() const {
  return expected.key + "\\" + expected.name + ": expected " + expected.value.Describe() +
         ", found " + actual.Describe();
}

RegistryPolicyEnforcer::RegistryPolicyEnforcer(Registry& registry) : registry_(registry) {}

Status RegistryPolicyEnforcer::Apply(std::span<const RegistryPolicyValue> desired) {
  for (const RegistryPolicyValue& v : desired) {
    if (Status s = registry_.Write(v.key, v.name, v.value); !s) return s;
  }
  auto drift = Verify(desired);
  if (!drift.ok()) return drift.error();
  if (!drift->empty()) {
    return MakeError(ErrorCode::kInternal,
                     "registry policy did not read back as written: " + drift->front().Describe());
  }
  return Status::Ok();
}

Result<std::vector<RegistryDrift>> RegistryPolicyEnforcer::Verify(
    std::span<const RegistryPolicyValue> desired) {
  std::vector<RegistryDrift> drift;
  for (const RegistryPolicyValue& v : desired) {
    auto actual = registry_.Read(v.key, v.name);
    if (!actual.ok()) return actual.error();
    if (*actual != v.value) drift.push_back({v, std::move(*actual)});
  }
  return drift;
}

Result<std::vector<RegistryDrift>> RegistryPolicyEnforcer::CheckAndRestore(
    std::span<const RegistryPolicyValue> desired) {
  auto drift = Verify(desired);
  if (!drift.ok() || drift->empty()) return drift;
  for (const RegistryDrift& d : *drift) {
    if (Status s = registry_.Write(d.expected.key, d.expected.name, d.expected.value); !s) {
      return MakeError(s.error().code,
                       "could not restore " + d.Describe() + ": " + s.error().message);
    }
  }
  auto after = Verify(desired);
  if (!after.ok()) return after.error();
  if (!after->empty()) {
    return MakeError(ErrorCode::kInternal,
                     "registry policy still differs after restore: " + after->front().Describe());
  }
  return drift;
}

}  // namespace mamori
