#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/credentials.h"
#include "common/logging.h"
#include "common/result.h"
#include "common/terminal_state.h"

namespace mamori {

// The agent's configuration file (see examples/agent.yaml). Relative paths
// are resolved against the directory of the file.
struct AgentConfig {
  std::string source;  // the file it was read from

  std::string collector_address;  // host:port
  std::string server_name;        // TLS name override; empty = host of the address
  TlsFiles tls;

  std::chrono::milliseconds report_interval{std::chrono::seconds(60)};
  int jitter_percent = 10;
  std::chrono::milliseconds backoff_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};

  // "simulated" or "linux". When the file does not say: "simulated" if it
  // gives devices.directory, else "linux".
  std::string device_backend = "simulated";
  std::string device_directory = "/var/lib/mamori/sim-devices";  // simulated only
  std::string sysfs_root = "/sys";                               // linux only
  std::string dev_root = "/dev";                                 // linux only

  EnforcementMode mode = EnforcementMode::kEnforce;
  std::string policy_file;  // empty = none
  std::string state_dir;
  LogConfig log;
};

// Parses a configuration document. `base_dir` resolves relative paths.
// Every problem is reported at once, each as "source:line:column: field:
// message".
Result<AgentConfig> ParseAgentConfig(std::string_view yaml_text, std::string_view source_name,
                                     std::string_view base_dir);

// Reads and parses the file at `path`.
Result<AgentConfig> LoadAgentConfig(const std::string& path);

}  // namespace mamori
