#pragma once

#include <cstdint>
#include <string>

#include "common/credentials.h"
#include "common/logging.h"
#include "common/result.h"
#include "server/collector/compliance_engine.h"
#include "server/store/store.h"

namespace mamori {

struct CollectorLimits {
  // Largest message the collector accepts from an agent. Messages up to
  // twice this size are received, rejected and logged; larger ones are cut
  // off by the transport before they reach the collector.
  int64_t max_message_bytes = 4 * 1024 * 1024;
  int64_t max_devices_per_report = 4096;
  int64_t max_events_per_batch = 1000;
};

// The dashboard (server/web): HTTPS on its own port. Absent section = off.
struct WebConfig {
  bool enabled = false;
  // host:port; port 0 picks a free port (written to port_file).
  std::string listen = "127.0.0.1:8443";
  std::string port_file;
  // Server certificate and key (PEM), e.g. from 'mamorictl pki issue server'.
  std::string cert_file;
  std::string key_file;
  // Threads doing TLS and HTTP (never blocking work).
  int threads = 2;
  // Threads answering API requests, which read the store; logins run on a
  // lane of their own.
  int workers = 4;
  // Connections open at once; at the limit new connections wait in the
  // listen queue until one closes.
  int max_connections = 256;
  int64_t session_ttl_ms = 8LL * 3600 * 1000;
};

struct CollectorConfig {
  // host:port; port 0 picks a free port (written to port_file).
  std::string listen = "127.0.0.1:7443";
  std::string port_file;
  TlsFiles tls;
  // policy.signing_key_file: the Ed25519 key policies are signed with
  // (mamorictl pki policy-key). Required: a collector never sends unsigned
  // policies.
  std::string policy_signing_key_file;
  std::string store_path = "mamori.db";
  SqliteOptions store;
  ComplianceConfig compliance;
  CollectorLimits limits;
  LogConfig log;
  WebConfig web;
};

// Parses the collector's YAML config. Relative paths are resolved against
// the directory of `path`. Every problem is reported with file:line:column
// and field.
Result<CollectorConfig> LoadCollectorConfig(const std::string& path);
Result<CollectorConfig> ParseCollectorConfig(std::string_view yaml_text,
                                             std::string_view source_name,
                                             const std::string& base_dir);

}  // namespace mamori
