#include "agent/app/agent_config.h"

#include <charconv>
#include <filesystem>
#include <tuple>

#include "common/base/config_file.h"
#include "common/crypto/ca_pin.h"
#include "common/crypto/identity.h"
#include "common/device/report_interval.h"

namespace mamori {
namespace {

using std::chrono::milliseconds;

// "host:port" or "[v6]:port", port 1..65535.
bool ValidAddress(std::string_view a) {
  const auto colon = a.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == a.size()) return false;
  const std::string_view host = a.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') return false;
  const std::string_view port = a.substr(colon + 1);
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  return ec == std::errc() && ptr == port.data() + port.size() && v >= 1 && v <= 65535;
}

bool OneOf(std::string_view v, std::initializer_list<std::string_view> allowed) {
  for (std::string_view a : allowed) {
    if (a == v) return true;
  }
  return false;
}

// A missing section has no position of its own; point at the document.
void RequireSections(YamlReader& r, const YAML::Node& root) {
  for (const char* section : {"collector", "tls", "policy"}) {
    const YAML::Node n = root[section];
    // An enrolling agent gets its certificate itself.
    if (std::string_view(section) == "tls" && root["enrollment"].IsDefined()) continue;
    if (!n.IsDefined() || n.IsNull()) {
      r.Fail(root, section,
             std::string_view(section) == "policy"
                 ? "required section is missing: policy.public_key_file, the collector's "
                   "policy-signing.pub (agents accept only policies signed by it)"
                 : "required section is missing");
    }
  }
}

void ReadCollector(YamlReader& r, const YAML::Node& collector, AgentConfig& c) {
  if (r.ExpectMap(collector, "collector", {"address", "server_name", "keepalive"}, false)) {
    if (auto a = r.String(collector, "address", "collector", true)) {
      if (ValidAddress(*a)) {
        c.collector_address = *a;
      } else {
        r.Fail(collector["address"], "collector.address",
               "expected host:port with a port from 1 to 65535, got '" + *a + "'");
      }
    }
    c.server_name = r.String(collector, "server_name", "collector").value_or("");
    const YAML::Node keepalive = collector["keepalive"];
    if (r.ExpectMap(keepalive, "collector.keepalive", {"time", "timeout"}, false)) {
      // Below 5 s the collector counts the pings as abuse and closes the
      // connection (GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS).
      if (auto ms = r.DurationMs(keepalive, "time", "collector.keepalive")) {
        if (*ms < 5000 || *ms > 3'600'000) {
          r.Fail(keepalive["time"], "collector.keepalive.time", "must be between 5s and 1h");
        } else {
          c.keepalive_time = milliseconds(*ms);
        }
      }
      if (auto ms = r.DurationMs(keepalive, "timeout", "collector.keepalive")) {
        if (*ms < 1000 || *ms > 600'000) {
          r.Fail(keepalive["timeout"], "collector.keepalive.timeout", "must be between 1s and 10m");
        } else {
          c.keepalive_timeout = milliseconds(*ms);
        }
      }
    }
  }
}

void ReadTls(YamlReader& r, const YAML::Node& tls, std::string_view base_dir, AgentConfig& c) {
  if (r.ExpectMap(tls, "tls", {"ca_file", "cert_file", "key_file"}, false)) {
    c.tls.ca_file = ResolveConfigPath(base_dir, r.String(tls, "ca_file", "tls", true).value_or(""));
    c.tls.cert_file =
        ResolveConfigPath(base_dir, r.String(tls, "cert_file", "tls", true).value_or(""));
    c.tls.key_file =
        ResolveConfigPath(base_dir, r.String(tls, "key_file", "tls", true).value_or(""));
  }
}

// The host of a valid "host:port" (brackets of an IPv6 literal kept).
std::string_view HostOf(std::string_view address) { return address.substr(0, address.rfind(':')); }

void ReadEnrollment(YamlReader& r, const YAML::Node& root, std::string_view base_dir,
                    AgentConfig& c) {
  const YAML::Node e = root["enrollment"];
  if (!e.IsDefined()) return;
  if (root["tls"].IsDefined()) {
    r.Fail(root["tls"], "tls",
           "tls and enrollment exclude each other: an enrolling agent keeps the certificate it "
           "gets in state_dir/identity; remove one of the two sections");
  }
  EnrollmentConfig en;
  if (!r.ExpectMap(e, "enrollment",
                   {"address", "ca_fingerprint", "token", "token_file", "terminal_id"}, true)) {
    return;
  }
  if (auto a = r.String(e, "address", "enrollment")) {
    if (ValidAddress(*a)) {
      en.address = *a;
    } else {
      r.Fail(e["address"], "enrollment.address",
             "expected host:port with a port from 1 to 65535, got '" + *a + "'");
    }
  } else if (!c.collector_address.empty()) {
    en.address =
        std::string(HostOf(c.collector_address)) + ":" + std::to_string(kDefaultEnrollmentPort);
  }
  if (auto f = r.String(e, "ca_fingerprint", "enrollment", true)) {
    Result<std::string> pin = ParseCaFingerprint(*f);
    if (pin.ok()) {
      en.ca_fingerprint = *pin;
    } else {
      r.Fail(e["ca_fingerprint"], "enrollment.ca_fingerprint", pin.error().message);
    }
  }
  const auto token = r.String(e, "token", "enrollment");
  const auto token_file = r.String(e, "token_file", "enrollment");
  if (token && token_file) {
    r.Fail(e["token_file"], "enrollment.token_file",
           "give the token inline (enrollment.token) or in a file, not both");
  }
  if (token) {
    if (token->empty()) {
      r.Fail(e["token"], "enrollment.token", "must not be empty (omit it once enrolled)");
    } else if (token->size() > 512) {
      r.Fail(e["token"], "enrollment.token", "longer than 512 characters: not a token");
    } else {
      en.token = *token;
    }
  }
  if (token_file) {
    if (token_file->empty()) {
      r.Fail(e["token_file"], "enrollment.token_file", "must not be empty");
    } else {
      en.token_file = ResolveConfigPath(base_dir, *token_file);
    }
  }
  if (auto id = r.String(e, "terminal_id", "enrollment")) {
    if (!id->empty() && !IsValidId(*id)) {
      r.Fail(e["terminal_id"], "enrollment.terminal_id",
             "expected 1 to 128 characters of A-Z a-z 0-9 . _ -, got '" + *id + "'");
    } else {
      en.terminal_id = *id;
    }
  }
  c.enrollment = std::move(en);
}

void ReadReport(YamlReader& r, const YAML::Node& report, AgentConfig& c) {
  if (r.ExpectMap(report, "report", {"interval", "jitter_percent"}, false)) {
    if (auto ms = r.DurationMs(report, "interval", "report")) {
      if (*ms < int64_t{kMinReportIntervalSeconds} * 1000 ||
          *ms > int64_t{kMaxReportIntervalSeconds} * 1000) {
        r.Fail(report["interval"], "report.interval", "must be between 1s and 24h");
      } else {
        c.report_interval = milliseconds(*ms);
      }
    }
    if (auto j = r.Int(report, "jitter_percent", "report", 0, 50)) {
      c.jitter_percent = static_cast<int>(*j);
    }
  }
}

void ReadOutbox(YamlReader& r, const YAML::Node& outbox, AgentConfig& c) {
  if (r.ExpectMap(outbox, "outbox", {"max_events"}, false)) {
    if (auto n = r.Int(outbox, "max_events", "outbox", 100, 10'000'000)) {
      c.outbox_max_events = static_cast<std::size_t>(*n);
    }
  }
}

void ReadBackoff(YamlReader& r, const YAML::Node& backoff, AgentConfig& c) {
  if (r.ExpectMap(backoff, "backoff", {"initial", "max"}, false)) {
    if (auto ms = r.DurationMs(backoff, "initial", "backoff")) {
      if (*ms < 10 || *ms > 3'600'000) {
        r.Fail(backoff["initial"], "backoff.initial", "must be between 10ms and 1h");
      } else {
        c.backoff_initial = milliseconds(*ms);
      }
    }
    if (auto ms = r.DurationMs(backoff, "max", "backoff")) {
      if (*ms < 10 || *ms > 86'400'000) {
        r.Fail(backoff["max"], "backoff.max", "must be between 10ms and 24h");
      } else if (milliseconds(*ms) < c.backoff_initial) {
        r.Fail(backoff["max"], "backoff.max", "must not be shorter than backoff.initial");
      } else {
        c.backoff_max = milliseconds(*ms);
      }
    }
  }
}

void ReadDevices(YamlReader& r, const YAML::Node& devices, std::string_view base_dir,
                 AgentConfig& c) {
  c.device_backend = "linux";
  if (r.ExpectMap(devices, "devices", {"backend", "directory", "sysfs_root", "dev_root"}, false)) {
    const auto backend = r.String(devices, "backend", "devices");
    const auto directory = r.String(devices, "directory", "devices");
    const auto sysfs_root = r.String(devices, "sysfs_root", "devices");
    const auto dev_root = r.String(devices, "dev_root", "devices");
    if (backend) {
      if (OneOf(*backend, {"simulated", "linux"})) {
        c.device_backend = *backend;
      } else {
        r.Fail(devices["backend"], "devices.backend",
               "unknown backend '" + *backend + "' (available: simulated, linux)");
      }
    } else if (directory) {
      c.device_backend = "simulated";
    }
    if (c.device_backend == "linux" && directory) {
      r.Fail(devices["directory"], "devices.directory",
             "applies only to the simulated backend (devices.backend is linux)");
    }
    if (c.device_backend == "simulated") {
      for (const char* key : {"sysfs_root", "dev_root"}) {
        if (devices[key].IsDefined()) {
          r.Fail(devices[key], std::string("devices.") + key,
                 "applies only to the linux backend (devices.backend is simulated)");
        }
      }
    }
    if (directory) c.device_directory = *directory;
    for (auto [value, field, name] : {std::tuple{&sysfs_root, &c.sysfs_root, "sysfs_root"},
                                      std::tuple{&dev_root, &c.dev_root, "dev_root"}}) {
      if (!*value) continue;
      if (value->value().empty()) {
        r.Fail(devices[name], std::string("devices.") + name, "must not be empty");
      } else {
        *field = ResolveConfigPath(base_dir, value->value());
      }
    }
  }
  c.device_directory = ResolveConfigPath(base_dir, c.device_directory);
}

void ReadEnforcement(YamlReader& r, const YAML::Node& enforcement, AgentConfig& c) {
  if (r.ExpectMap(enforcement, "enforcement", {"mode", "max_clock_skew"}, false)) {
    if (auto ms = r.DurationMs(enforcement, "max_clock_skew", "enforcement")) {
      if (*ms < 10'000 || *ms > 3'600'000) {
        r.Fail(enforcement["max_clock_skew"], "enforcement.max_clock_skew",
               "must be between 10s and 1h");
      } else {
        c.max_clock_skew = milliseconds(*ms);
      }
    }
    if (auto m = r.String(enforcement, "mode", "enforcement")) {
      if (*m == "enforce") {
        c.mode = EnforcementMode::kEnforce;
      } else if (*m == "audit_only") {
        c.mode = EnforcementMode::kAuditOnly;
      } else {
        r.Fail(enforcement["mode"], "enforcement.mode",
               "expected enforce or audit_only, got '" + *m + "'");
      }
    }
  }
}

void ReadPolicyAndState(YamlReader& r, const YAML::Node& root, std::string_view base_dir,
                        AgentConfig& c) {
  const YAML::Node policy = root["policy"];
  if (r.ExpectMap(policy, "policy", {"public_key_file"}, false)) {
    c.policy_public_key_file = ResolveConfigPath(
        base_dir, r.String(policy, "public_key_file", "policy", true).value_or(""));
  }
  c.policy_file = ResolveConfigPath(base_dir, r.String(root, "policy_file", "").value_or(""));
  c.state_dir = ResolveConfigPath(base_dir, r.String(root, "state_dir", "", true).value_or(""));
  const YAML::Node unlock = root["unlock"];
  if (r.ExpectMap(unlock, "unlock", {"public_key_file", "socket"}, false)) {
    c.unlock_public_key_file =
        ResolveConfigPath(base_dir, r.String(unlock, "public_key_file", "unlock").value_or(""));
    if (auto socket = r.String(unlock, "socket", "unlock")) {
      c.unlock_socket = ResolveConfigPath(base_dir, *socket);
    }
  }
}

}  // namespace

Result<AgentConfig> ParseAgentConfig(std::string_view yaml_text, std::string_view source_name,
                                     std::string_view base_dir) {
  YamlReader r{std::string(source_name)};
  const YAML::Node root = r.Load(yaml_text);
  if (!r.ok()) return r.ToError();
  AgentConfig c;
  c.source = std::string(source_name);
  if (!r.ExpectMap(root, "",
                   {"collector", "tls", "enrollment", "report", "backoff", "devices", "enforcement",
                    "policy", "policy_file", "state_dir", "outbox", "log", "unlock"})) {
    if (r.ok()) r.Fail(root, "", "the configuration is empty");
    return r.ToError();
  }

  RequireSections(r, root);
  ReadCollector(r, root["collector"], c);
  ReadTls(r, root["tls"], base_dir, c);
  ReadEnrollment(r, root, base_dir, c);
  ReadReport(r, root["report"], c);
  ReadOutbox(r, root["outbox"], c);
  ReadBackoff(r, root["backoff"], c);
  ReadDevices(r, root["devices"], base_dir, c);
  ReadEnforcement(r, root["enforcement"], c);
  ReadPolicyAndState(r, root, base_dir, c);
  ReadLogSection(r, root["log"], base_dir, c.log);

  if (!r.ok()) return r.ToError();
  if (c.enrollment) {
    const std::filesystem::path dir(IdentityDir(c));
    c.tls.ca_file = (dir / "ca.pem").string();
    c.tls.cert_file = (dir / "cert.pem").string();
    c.tls.key_file = (dir / "key.pem").string();
  }
  return c;
}

std::string IdentityDir(const AgentConfig& config) {
  return (std::filesystem::path(config.state_dir) / "identity").string();
}

Result<AgentConfig> LoadAgentConfig(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.error();
  std::filesystem::path p(path);
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(p, ec);
  const std::string base = (ec ? p : abs).parent_path().string();
  return ParseAgentConfig(*text, path, base);
}

}  // namespace mamori
