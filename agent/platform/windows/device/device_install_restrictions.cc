#include "agent/platform/windows/device/device_install_restrictions.h"

#include <algorithm>
#include <string>

namespace mamori {

std::vector<std::string_view> DeniedSetupClasses(const RemovableStorageAccess& access) {
  std::vector<std::string_view> out;
  if (access.removable_disks == Action::kBlock) out.push_back(kDiskDriveSetupClass);
  if (access.cd_dvd == Action::kBlock) out.push_back(kCdRomSetupClass);
  if (access.wpd == Action::kBlock) out.push_back(kWpdSetupClass);
  return out;
}

namespace {

bool UsableInstanceId(std::string_view id) {
  if (id.empty() || id.size() > kMaxInstanceIdLength) return false;
  return std::none_of(id.begin(), id.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

}  // namespace

std::vector<RegistryPolicyValue> DeviceInstallValuesFor(
    const RemovableStorageAccess& access, std::span<const std::string> allowed_instance_ids) {
  const std::vector<std::string_view> denied = DeniedSetupClasses(access);
  const bool any = !denied.empty();
  const std::string key(kDeviceInstallRestrictionsKey);
  const std::string list(kDenyDeviceClassesListKey);
  std::vector<RegistryPolicyValue> out;
  out.push_back({key, std::string(kDenyDeviceClasses),
                 any ? RegistryValue::Dword(1) : RegistryValue::Missing()});
  out.push_back({key, std::string(kDenyDeviceClassesRetroactive),
                 any ? RegistryValue::Dword(0) : RegistryValue::Missing()});
  constexpr std::size_t kListSlots = 3;  // one per class DeniedSetupClasses may return
  for (std::size_t i = 0; i < kListSlots; ++i) {
    out.push_back({list, std::to_string(i + 1),
                   i < denied.size() ? RegistryValue::String(std::string(denied[i]))
                                     : RegistryValue::Missing()});
  }
  std::vector<std::string_view> allowed;
  for (const std::string& id : allowed_instance_ids) {
    if (allowed.size() == kMaxAllowedInstanceIds) break;
    if (UsableInstanceId(id)) allowed.push_back(id);
  }
  const bool allow = !allowed.empty();
  out.push_back({key, std::string(kAllowDenyLayered),
                 allow ? RegistryValue::Dword(1) : RegistryValue::Missing()});
  out.push_back({key, std::string(kAllowInstanceIds),
                 allow ? RegistryValue::Dword(1) : RegistryValue::Missing()});
  const std::string allow_list(kAllowInstanceIdsListKey);
  for (std::size_t i = 0; i < kMaxAllowedInstanceIds; ++i) {
    out.push_back({allow_list, std::to_string(i + 1),
                   i < allowed.size() ? RegistryValue::String(std::string(allowed[i]))
                                      : RegistryValue::Missing()});
  }
  return out;
}

}  // namespace mamori
