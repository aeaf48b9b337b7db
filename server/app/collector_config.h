#pragma once

#include <cstdint>
#include <string>

#include "common/base/logging.h"
#include "common/base/result.h"
#include "common/crypto/credentials.h"
#include "server/compliance/compliance_engine.h"
#include "server/enrollment/enrollment_workflow.h"
#include "server/exceptions/exception_workflow.h"
#include "server/ingest/ingest_limits.h"
#include "server/store/store.h"
#include "server/web/web_config.h"

namespace mamori {

struct CollectorConfig {
  // host:port; port 0 picks a free port (written to port_file).
  std::string listen = "127.0.0.1:7443";
  std::string port_file;
  TlsFiles tls;
  // policy.signing_key_file: the Ed25519 key policies are signed with
  // (mamorictl pki policy-key). Required: a collector never sends unsigned
  // policies.
  std::string policy_signing_key_file;
  // unlock.key_file: the P-256 key offline unlock codes are made with
  // (mamorictl pki unlock-key). Optional: without it no codes are issued.
  std::string unlock_key_file;
  std::string store_path = "mamori.db";
  SqliteOptions store;
  ComplianceConfig compliance;
  CollectorLimits limits;
  LogConfig log;
  WebConfig web;
  // exceptions.max_window (default 7d) and exceptions.two_person_rule
  // (default false).
  ExceptionSettings exceptions;
  // enrollment: the enrollment port, the issuing CA and the rules for
  // enrolled and renewed certificates. No issuing CA = no enrollment and no
  // renewal.
  EnrollmentSettings enrollment;
};

// Parses the collector's YAML config. Relative paths are resolved against
// the directory of `path`. Every problem is reported with file:line:column
// and field.
Result<CollectorConfig> LoadCollectorConfig(const std::string& path);
Result<CollectorConfig> ParseCollectorConfig(std::string_view yaml_text,
                                             std::string_view source_name,
                                             const std::string& base_dir);

}  // namespace mamori
