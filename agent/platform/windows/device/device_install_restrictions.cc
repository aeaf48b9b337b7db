#include "agent/platform/windows/device/device_install_restrictions.h"

#include <string>

namespace mamori {

std::vector<std::string_view> DeniedSetupClasses(const RemovableStorageAccess& access) {
  std::vector<std::string_view> out;
  if (access.removable_disks == Action::kBlock) out.push_back(kDiskDriveSetupClass);
  if (access.cd_dvd == Action::kBlock) out.push_back(kCdRomSetupClass);
  if (access.wpd == Action::kBlock) out.push_back(kWpdSetupClass);
  return out;
}

std::vector<RegistryPolicyValue> DeviceInstallValuesFor(const RemovableStorageAccess& access) {
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
  return out;
}

}  // namespace mamori
