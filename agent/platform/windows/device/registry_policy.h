#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/platform/windows/win32/registry.h"
#include "common/base/result.h"
#include "common/device/device.h"
#include "common/policy/policy.h"

namespace mamori {

// Removable Storage Access policy (RemovableStorage.admx, "System >
// Removable Storage Access"): the agent writes it as a second line behind
// device disabling, so a device that slips past the first line (agent down,
// a class the backend missed) still gets no file access. Key and value names
// are those of the ADMX mapping in Microsoft's Policy CSP documentation
// (ADMX_RemovableStorage).
inline constexpr std::string_view kRemovableStorageDevicesKey =
    "SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices";
inline constexpr std::string_view kDenyRead = "Deny_Read";
inline constexpr std::string_view kDenyWrite = "Deny_Write";

// One storage class of the ADMX: its key is
// kRemovableStorageDevicesKey + "\\" + guid.
struct RemovableStorageClass {
  std::string_view name;
  std::string_view guid;
};
// "Removable Disks", "CD and DVD", and the two WPD classes (the ADMX's WPD
// settings set both keys).
inline constexpr RemovableStorageClass kRemovableDisksClass{
    "removable_disks", "{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}"};
inline constexpr RemovableStorageClass kCdDvdClass{"cd_dvd",
                                                   "{53f56308-b6bf-11d0-94f2-00a0c91efb8b}"};
inline constexpr RemovableStorageClass kWpdClass{"wpd", "{6AC27878-A6FA-4155-BA85-F98F491D4F33}"};
inline constexpr RemovableStorageClass kWpdMediaClass{"wpd_media",
                                                      "{F33FDC04-D1AC-4E8E-9A30-19BBD4B108AE}"};

// The class-wide access the registry line may impose.
struct RemovableStorageAccess {
  Action removable_disks = Action::kBlock;
  Action cd_dvd = Action::kBlock;
  Action wpd = Action::kBlock;
  bool operator==(const RemovableStorageAccess&) const = default;
};

// The registry line is class-wide, but the policy allows single devices
// (registered media, vendor:product rules). So each class gets the policy's
// default storage action, relaxed to the most permissive action of any rule
// that could match a device of that class (a rule without a class condition
// could match any): the second line never blocks what the first allows.
RemovableStorageAccess DeriveRemovableStorageAccess(const Policy& policy);

// One value the agent wants in HKLM: a DWORD, a string, or (kMissing) no
// value at all under that name.
struct RegistryPolicyValue {
  std::string key;
  std::string name;
  RegistryValue value;
  bool operator==(const RegistryPolicyValue&) const = default;
};

// block: Deny_Read=1, Deny_Write=1; read_only: Deny_Read=0, Deny_Write=1;
// allow: both 0 (explicit, so deleting a value is visible as drift).
std::vector<RegistryPolicyValue> RegistryValuesFor(const RemovableStorageAccess& access);

// The devices an exception in force allows that are plugged in now, as far
// as the registry line must let them through: the instance id of each such
// USB device and of every node below it (the USBSTOR disk, the WPD
// function), and the classes of those devices. Empty when none.
struct ExceptionAllowance {
  std::vector<std::string> instance_ids;  // sorted, no duplicates
  std::vector<DeviceClass> classes;       // sorted, no duplicates
  bool empty() const { return instance_ids.empty(); }
  bool operator==(const ExceptionAllowance&) const = default;
};

// Relaxes `access` for the classes of `allowance`: Removable Storage Access
// is class-wide, so a stick an exception allows is readable only with
// removable disks allowed. Only while such a device is plugged in; the
// other devices of the class stay closed by the first line (each is
// disabled) and by the device install restrictions, which keep the class
// denied and let only the listed instance ids through.
RemovableStorageAccess RelaxForExceptions(RemovableStorageAccess access,
                                          const ExceptionAllowance& allowance);

// The whole registry line for `policy`: the Removable Storage Access values
// above followed by the Device Installation Restrictions
// (device_install_restrictions.h), both from DeriveRemovableStorageAccess;
// with `allowance`, the access relaxed by RelaxForExceptions and its
// instance ids allowed to install (the class denials stay those of the
// policy).
std::vector<RegistryPolicyValue> RegistryLineFor(const Policy& policy,
                                                 const ExceptionAllowance& allowance = {});

// A value that is not what the agent wrote: changed, deleted, retyped, or
// present where the agent wants none.
struct RegistryDrift {
  RegistryPolicyValue expected;
  RegistryValue actual;
  // "SOFTWARE\...\{guid}\Deny_Write: expected 1, found missing".
  std::string Describe() const;
};

// Writes, verifies and repairs the registry line.
class RegistryPolicyEnforcer {
 public:
  explicit RegistryPolicyEnforcer(Registry& registry);

  // Writes every value, then reads each back; an error names the first that
  // could not be written or did not read back as written.
  Status Apply(std::span<const RegistryPolicyValue> desired);
  // Every value that differs from `desired`.
  Result<std::vector<RegistryDrift>> Verify(std::span<const RegistryPolicyValue> desired);
  // Verify, then rewrite what drifted and verify again. Returns the drift
  // found (tampering to report; empty when all was in place); an error when
  // a value could not be restored.
  Result<std::vector<RegistryDrift>> CheckAndRestore(std::span<const RegistryPolicyValue> desired);

 private:
  Registry& registry_;
};

}  // namespace mamori
