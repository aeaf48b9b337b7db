#pragma once

#include <spdlog/logger.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/core/device_backend.h"
#include "agent/platform/posix/unique_fd.h"
#include "common/base/result.h"

namespace mamori {

// One simulated device as described by its file.
struct SimulatedDevice {
  ObservedDevice device;
  // Apply() fails for this device, to exercise enforcement-failure paths.
  bool fail_enforcement = false;
};

// Parses one device file (pure; no I/O). `device_id` is the file name
// without ".yaml". Errors are located as "source:line:column: field: message".
//
//   vendor_id: "0781"            # hex, required
//   product_id: "5581"           # hex, required
//   class: mass_storage          # required
//   interfaces: [mass_storage]
//   serial: "4C530001"           # or serial_hex: "4c 53 00 ff" (raw bytes)
//   manufacturer: SanDisk        # or manufacturer_hex
//   product: Ultra               # or product_hex
//   bus_path: "1-2"
//   descriptor_hash: "ab12..."
//   fail_enforcement: false
Result<SimulatedDevice> ParseSimulatedDevice(std::string_view yaml_text,
                                             std::string_view source_name, std::string device_id);

// Devices described by files in a directory, one `<device_id>.yaml` per
// device: creating a file plugs a device in, deleting it unplugs it. Used for
// demonstrations and tests of everything above the platform layer.
// Enforcement is recorded, not carried out.
class SimulatedDeviceBackend final : public DeviceBackend {
 public:
  // A device file is a few hundred bytes; anything this large is refused
  // rather than read into memory.
  static constexpr std::size_t kMaxFileBytes = 4u << 20;

  // `logger` defaults to the process logger "sim-devices".
  explicit SimulatedDeviceBackend(std::string directory,
                                  std::shared_ptr<spdlog::logger> logger = nullptr);
  ~SimulatedDeviceBackend() override;
  SimulatedDeviceBackend(const SimulatedDeviceBackend&) = delete;
  SimulatedDeviceBackend& operator=(const SimulatedDeviceBackend&) = delete;

  std::string_view Name() const override { return "simulated"; }
  // Creates the directory if missing and starts an inotify watch on it.
  Status Start(std::function<void()> on_change) override;
  void Stop() override;
  std::vector<ObservedDevice> Enumerate() override;
  Status Apply(const ObservedDevice& device, const Decision& decision) override;

  // The action last applied to a present device, if any.
  std::optional<Action> AppliedAction(std::string_view device_id) const;
  // The whole decision last applied (with the interfaces kept), if any.
  std::optional<Decision> AppliedDecision(std::string_view device_id) const;

 private:
  void WatchLoop(int inotify_fd, int stop_fd, const std::function<void()>& on_change);
  Result<std::string> ReadDeviceFile(const std::string& path) const;
  // Logs a problem with one file once, not on every enumeration.
  void ReportFileProblemLocked(const std::string& path, const std::string& message);

  const std::string directory_;
  const std::shared_ptr<spdlog::logger> log_;

  // Serializes Start and Stop.
  std::mutex lifecycle_mu_;
  UniqueFd inotify_fd_;   // guarded by lifecycle_mu_
  UniqueFd stop_fd_;      // guarded by lifecycle_mu_; eventfd that ends WatchLoop
  std::jthread watcher_;  // guarded by lifecycle_mu_

  mutable std::mutex mu_;
  // Devices seen by the last Enumerate.
  std::map<std::string, SimulatedDevice, std::less<>> present_;  // guarded by mu_
  std::map<std::string, Decision, std::less<>> applied_;         // guarded by mu_
  // Last problem logged per file path.
  std::map<std::string, std::string> reported_;  // guarded by mu_
};

}  // namespace mamori
