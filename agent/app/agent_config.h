#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/logging.h"
#include "common/base/result.h"
#include "common/crypto/credentials.h"
#include "common/device/terminal_state.h"

namespace mamori {

// enrollment: how a terminal without a certificate gets one (see
// examples/agent.yaml). The identity it gets lives in
// <state_dir>/identity/ and is renewed there.
struct EnrollmentConfig {
  // host:port of the collector's enrollment port; default: the host of
  // collector.address, port 7444.
  std::string address;
  // SHA-256 of the deployment's root CA certificate (DER), 64 lower-case
  // hex digits: the only trust the agent starts with.
  std::string ca_fingerprint;
  // The enrollment token, inline or in a file (deleted after use). At most
  // one is set; neither is allowed (an enrolled agent needs none) and is
  // refused when enrollment is needed.
  std::string token;
  std::string token_file;
  // The terminal id to ask for; empty: the host name.
  std::string terminal_id;
};

// Port of the enrollment service when enrollment.address does not say.
inline constexpr int kDefaultEnrollmentPort = 7444;

// The agent's configuration file (see examples/agent.yaml). Relative paths
// are resolved against the directory of the file.
struct AgentConfig {
  std::string source;  // the file it was read from

  std::string collector_address;  // host:port
  std::string server_name;        // TLS name override; empty = host of the address
  // collector.keepalive: a ping every `time` on the connection, and a peer
  // that does not answer within `timeout` is dead, so a frozen collector or
  // a silently dropped connection is noticed within time + timeout. The
  // collector accepts pings no more often than every 5 s (server_transport).
  std::chrono::milliseconds keepalive_time{std::chrono::seconds(30)};
  std::chrono::milliseconds keepalive_timeout{std::chrono::seconds(10)};
  // The terminal's certificate: given as files (tls:), or, with an
  // enrollment section, obtained and renewed by the agent in
  // <state_dir>/identity/ (tls then points there). Exactly one of the two.
  TlsFiles tls;
  std::optional<EnrollmentConfig> enrollment;

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
  // enforcement.max_clock_skew: how far this terminal's clock may be from
  // the collector's for time-limited exceptions (and unlock codes) to apply.
  std::chrono::milliseconds max_clock_skew{5 * 60 * 1000};
  std::string policy_file;  // bootstrap policy; empty = none
  // policy.public_key_file: the collector's policy key, pinned. Required.
  std::string policy_public_key_file;
  std::string state_dir;
  // unlock.public_key_file: the collector's unlock public key (mamorictl pki
  // unlock-key). Optional: without it every offline unlock code is refused.
  std::string unlock_public_key_file;
  // unlock.socket (Linux): where `mamori-agent unlock` reaches the service.
  std::string unlock_socket = "/run/mamori/unlock.sock";
  // outbox.max_events: events the journal holds before the oldest
  // low-severity ones are folded into a counted "N events dropped" event.
  std::size_t outbox_max_events = 10000;
  LogConfig log;
};

// Parses a configuration document. `base_dir` resolves relative paths.
// Every problem is reported at once, each as "source:line:column: field:
// message".
Result<AgentConfig> ParseAgentConfig(std::string_view yaml_text, std::string_view source_name,
                                     std::string_view base_dir);

// <state_dir>/identity: where an enrolled agent keeps its key and certificate.
std::string IdentityDir(const AgentConfig& config);

// Reads and parses the file at `path`.
Result<AgentConfig> LoadAgentConfig(const std::string& path);

}  // namespace mamori
