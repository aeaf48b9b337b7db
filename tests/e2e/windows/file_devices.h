#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/platform/windows/device/device_manager.h"
#include "agent/platform/windows/device/disk_attributes.h"

namespace mamori::testing {

// The Wine tests' device seam (Wine has no USB stack): the PnP tree is the
// set of `*.node` files in a directory, one device node each, written by the
// test on the Linux side:
//   instance_id USB\VID_0781&PID_5581\4C530001
//   parent USB\ROOT_HUB30\4&1&0&0
//   hardware_id USB\VID_0781&PID_5581&REV_0100      (repeatable)
//   compatible_id USB\Class_08&SubClass_06&Prot_50  (repeatable)
//   setup_class {4d36e972-e325-11ce-bfc1-08002be10318} (the driver's, optional)
//   service rtux64w10                                (optional)
//   if_type 6                                        (*IfType, optional)
// Disabling a node creates `<file>.disabled` beside it and enabling removes
// it, so the test reads what the agent enforced and a re-plug (rewriting
// the file) keeps it. Everything above this interface is the shipped agent.
class FileDeviceManager final : public DeviceManager {
 public:
  explicit FileDeviceManager(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<std::vector<DevNode>> ListPresent() override;
  Status SetEnabled(std::string_view instance_id, bool enabled) override;
  Result<bool> IsDisabled(std::string_view instance_id) override;
  // No disk, volume, CD-ROM or WPD interfaces: sticks are recognised by
  // their class codes.
  Result<std::vector<DeviceInterface>> ListInterfaces(InterfaceClass cls) override;

 private:
  // Every readable node with the file it came from and its disabled marker.
  Result<std::vector<std::pair<std::filesystem::path, DevNode>>> ReadNodes();
  Result<std::filesystem::path> FileOf(std::string_view instance_id);
  const std::filesystem::path dir_;
};

// No disks besides the system disk 0.
class NoDiskControl final : public DiskControl {
 public:
  Status SetReadOnly(std::string_view path) override;
  Result<bool> IsReadOnly(std::string_view path) override;
  Result<StorageProperties> QueryStorage(std::string_view path) override;
  Result<uint32_t> DiskNumber(std::string_view path) override;
  Result<std::vector<uint32_t>> SystemDiskNumbers() override { return std::vector<uint32_t>{0}; }
};

// Parses one node file's text; pure.
Result<DevNode> ParseNodeFile(std::string_view text, std::string_view source);

}  // namespace mamori::testing
