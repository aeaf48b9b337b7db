#include "server/app/collector_config.h"

#include <filesystem>

#include "common/base/config_file.h"

namespace mamori {
namespace {

void ReadTls(YamlReader& r, const YAML::Node& tls, std::string_view base_dir, CollectorConfig& c) {
  if (r.ExpectMap(tls, "tls", {"ca_file", "cert_file", "key_file"})) {
    if (auto v = r.String(tls, "ca_file", "tls", true)) {
      c.tls.ca_file = ResolveConfigPath(base_dir, *v);
    }
    if (auto v = r.String(tls, "cert_file", "tls", true)) {
      c.tls.cert_file = ResolveConfigPath(base_dir, *v);
    }
    if (auto v = r.String(tls, "key_file", "tls", true)) {
      c.tls.key_file = ResolveConfigPath(base_dir, *v);
    }
  }
}

// A missing section has no position of its own; point at the document.
void ReadPolicy(YamlReader& r, const YAML::Node& root, std::string_view base_dir,
                CollectorConfig& c) {
  const YAML::Node policy = root["policy"];
  if (!policy.IsDefined() || policy.IsNull()) {
    r.Fail(root, "policy",
           "required section is missing: policy.signing_key_file (make the key with 'mamorictl "
           "pki policy-key'; agents refuse unsigned policies)");
  } else if (r.ExpectMap(policy, "policy", {"signing_key_file"})) {
    if (auto v = r.String(policy, "signing_key_file", "policy", true)) {
      c.policy_signing_key_file = ResolveConfigPath(base_dir, *v);
    }
  }
  const YAML::Node unlock = root["unlock"];
  if (r.ExpectMap(unlock, "unlock", {"key_file"}, false)) {
    c.unlock_key_file =
        ResolveConfigPath(base_dir, r.String(unlock, "key_file", "unlock").value_or(""));
  }
}

void ReadStore(YamlReader& r, const YAML::Node& store, std::string_view base_dir,
               CollectorConfig& c) {
  if (r.ExpectMap(store, "store", {"path", "synchronous", "busy_timeout"}, false)) {
    if (auto v = r.String(store, "path", "store")) c.store_path = *v;
    if (auto v = r.String(store, "synchronous", "store")) {
      if (*v != "full" && *v != "normal") {
        r.Fail(store["synchronous"], "store.synchronous",
               "expected 'full' or 'normal', got '" + *v + "'");
      }
      c.store.synchronous = *v;
    }
    if (auto v = r.DurationMs(store, "busy_timeout", "store")) {
      c.store.busy_timeout_ms = static_cast<int>(std::min<int64_t>(*v, 600'000));
    }
  }
  c.store_path = ResolveConfigPath(base_dir, c.store_path);
}

void ReadCompliance(YamlReader& r, const YAML::Node& comp, CollectorConfig& c) {
  if (r.ExpectMap(comp, "compliance", {"default_report_interval", "max_clock_skew"}, false)) {
    if (auto v = r.DurationMs(comp, "default_report_interval", "compliance")) {
      c.compliance.default_report_interval_ms = *v;
    }
    if (auto v = r.DurationMs(comp, "max_clock_skew", "compliance")) {
      c.compliance.max_clock_skew_ms = *v;
    }
  }
}

// The longest window any deployment may allow: the agent refuses more.
constexpr int64_t kMaxExceptionWindowMs = int64_t{31} * 86'400'000;

void ReadExceptions(YamlReader& r, const YAML::Node& ex, CollectorConfig& c) {
  if (!r.ExpectMap(ex, "exceptions", {"max_window", "two_person_rule"}, false)) return;
  if (auto v = r.DurationMs(ex, "max_window", "exceptions")) {
    if (*v < 60'000 || *v > kMaxExceptionWindowMs) {
      r.Fail(ex["max_window"], "exceptions.max_window", "must be between 1m and 31d");
    } else {
      c.exceptions.max_window_ms = *v;
    }
  }
  if (auto v = r.Bool(ex, "two_person_rule", "exceptions")) c.exceptions.two_person_rule = *v;
}

void ReadLimits(YamlReader& r, const YAML::Node& lim, CollectorConfig& c) {
  if (r.ExpectMap(lim, "limits",
                  {"max_message_bytes", "max_devices_per_report", "max_events_per_batch",
                   "transport_memory_bytes"},
                  false)) {
    if (auto v = r.Int(lim, "max_message_bytes", "limits", 1024, 256LL * 1024 * 1024)) {
      c.limits.max_message_bytes = *v;
    }
    if (auto v = r.Int(lim, "max_devices_per_report", "limits", 1, 1'000'000)) {
      c.limits.max_devices_per_report = *v;
    }
    if (auto v = r.Int(lim, "max_events_per_batch", "limits", 1, 1'000'000)) {
      c.limits.max_events_per_batch = *v;
    }
    if (auto v = r.Int(lim, "transport_memory_bytes", "limits", 0, 1LL << 40)) {
      if (*v != 0 && *v < 16LL * 1024 * 1024) {
        r.Fail(lim["transport_memory_bytes"], "limits.transport_memory_bytes",
               "must be 0 (no quota) or at least 16777216 (16 MiB)");
      }
      c.limits.transport_memory_bytes = *v;
    }
  }
}

void ReadWeb(YamlReader& r, const YAML::Node& web, std::string_view base_dir, CollectorConfig& c) {
  if (web.IsDefined() && !web.IsNull()) {
    c.web.enabled = true;
    if (r.ExpectMap(web, "web",
                    {"listen", "port_file", "cert_file", "key_file", "threads", "workers",
                     "max_connections", "max_connections_per_address", "handshake_timeout",
                     "request_timeout", "idle_timeout", "session_ttl"})) {
      if (auto v = r.String(web, "listen", "web")) {
        const auto colon = v->rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == v->size()) {
          r.Fail(web["listen"], "web.listen", "expected host:port, got '" + *v + "'");
        }
        c.web.listen = *v;
      }
      if (auto v = r.String(web, "port_file", "web")) {
        c.web.port_file = ResolveConfigPath(base_dir, *v);
      }
      if (auto v = r.String(web, "cert_file", "web", true)) {
        c.web.cert_file = ResolveConfigPath(base_dir, *v);
      }
      if (auto v = r.String(web, "key_file", "web", true)) {
        c.web.key_file = ResolveConfigPath(base_dir, *v);
      }
      if (auto v = r.Int(web, "threads", "web", 1, 64)) c.web.threads = static_cast<int>(*v);
      if (auto v = r.Int(web, "workers", "web", 1, 64)) c.web.workers = static_cast<int>(*v);
      if (auto v = r.Int(web, "max_connections", "web", 1, 100'000)) {
        c.web.max_connections = static_cast<int>(*v);
      }
      if (auto v = r.Int(web, "max_connections_per_address", "web", 1, 100'000)) {
        c.web.max_connections_per_address = static_cast<int>(*v);
      }
      const auto timeout = [&](const char* key, int64_t max_ms, int64_t& out) {
        if (auto v = r.DurationMs(web, key, "web")) {
          if (*v < 1000 || *v > max_ms) {
            r.Fail(web[key], std::string("web.") + key,
                   "must be between 1s and " + std::to_string(max_ms / 1000) + "s");
          }
          out = *v;
        }
      };
      timeout("handshake_timeout", 60'000, c.web.handshake_timeout_ms);
      timeout("request_timeout", 300'000, c.web.request_timeout_ms);
      timeout("idle_timeout", 3'600'000, c.web.idle_timeout_ms);
      if (auto v = r.DurationMs(web, "session_ttl", "web")) {
        if (*v < 1000 || *v > 7LL * 24 * 3600 * 1000) {
          r.Fail(web["session_ttl"], "web.session_ttl", "must be between 1s and 7 days");
        }
        c.web.session_ttl_ms = *v;
      }
    }
  }
}

void ReadEnrollment(YamlReader& r, const YAML::Node& en, std::string_view base_dir,
                    CollectorConfig& c) {
  if (!r.ExpectMap(
          en, "enrollment",
          {"listen", "port_file", "issuing_ca_cert_file", "issuing_ca_key_file",
           "certificate_lifetime", "terminal_id", "max_attempts_per_minute", "active_window"},
          false)) {
    return;
  }
  EnrollmentSettings& e = c.enrollment;
  if (auto v = r.String(en, "listen", "enrollment")) {
    for (const std::string& a : SplitListenAddresses(*v)) {
      const auto colon = a.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) {
        r.Fail(en["listen"], "enrollment.listen",
               "expected host:port (several separated by commas), got '" + a + "'");
      }
    }
    e.listen = *v;
  }
  if (auto v = r.String(en, "port_file", "enrollment")) {
    e.port_file = ResolveConfigPath(base_dir, *v);
  }
  if (auto v = r.String(en, "issuing_ca_cert_file", "enrollment")) {
    e.issuing_ca_cert_file = ResolveConfigPath(base_dir, *v);
  }
  if (auto v = r.String(en, "issuing_ca_key_file", "enrollment")) {
    e.issuing_ca_key_file = ResolveConfigPath(base_dir, *v);
  }
  if (e.issuing_ca_cert_file.empty() != e.issuing_ca_key_file.empty()) {
    r.Fail(en, "enrollment",
           "issuing_ca_cert_file and issuing_ca_key_file go together: set both or neither");
  }
  if (!e.listen.empty() && e.issuing_ca_cert_file.empty()) {
    r.Fail(en["listen"], "enrollment.listen",
           "an enrollment port needs the issuing CA (issuing_ca_cert_file, issuing_ca_key_file)");
  }
  if (auto v = r.DurationMs(en, "certificate_lifetime", "enrollment")) {
    if (*v < kMinCertificateLifetimeMs || *v > kMaxCertificateLifetimeMs) {
      r.Fail(en["certificate_lifetime"], "enrollment.certificate_lifetime",
             "must be between 5m and 397d");
    } else {
      e.certificate_lifetime_ms = *v;
    }
  }
  if (auto v = r.String(en, "terminal_id", "enrollment")) {
    if (*v == "hostname") {
      e.terminal_id_rule = TerminalIdRule::kHostname;
    } else if (*v == "request") {
      e.terminal_id_rule = TerminalIdRule::kRequest;
    } else {
      r.Fail(en["terminal_id"], "enrollment.terminal_id",
             "expected 'hostname' or 'request', got '" + *v + "'");
    }
  }
  if (auto v = r.Int(en, "max_attempts_per_minute", "enrollment", 1, 10'000)) {
    e.max_attempts_per_minute = static_cast<int>(*v);
  }
  if (auto v = r.DurationMs(en, "active_window", "enrollment")) {
    if (*v < 60'000 || *v > 3650 * kDayMs) {
      r.Fail(en["active_window"], "enrollment.active_window", "must be between 1m and 3650d");
    } else {
      e.active_window_ms = *v;
    }
  }
}

}  // namespace

Result<CollectorConfig> ParseCollectorConfig(std::string_view yaml_text,
                                             std::string_view source_name,
                                             const std::string& base_dir) {
  YamlReader r{std::string(source_name)};
  CollectorConfig c;
  YAML::Node root = r.Load(yaml_text);
  if (!r.ok()) return r.ToError();
  if (!r.ExpectMap(root, "",
                   {"listen", "port_file", "tls", "policy", "unlock", "store", "compliance",
                    "limits", "log", "web", "exceptions", "enrollment"})) {
    return r.ToError();
  }
  if (auto v = r.String(root, "listen", "", true)) {
    const auto colon = v->rfind(':');
    if (colon == std::string::npos || colon + 1 == v->size()) {
      r.Fail(root["listen"], "listen", "expected host:port, got '" + *v + "'");
    }
    c.listen = *v;
  }
  if (auto v = r.String(root, "port_file", "")) c.port_file = ResolveConfigPath(base_dir, *v);

  ReadTls(r, root["tls"], base_dir, c);
  ReadPolicy(r, root, base_dir, c);
  ReadStore(r, root["store"], base_dir, c);
  ReadCompliance(r, root["compliance"], c);
  ReadLimits(r, root["limits"], c);
  ReadLogSection(r, root["log"], base_dir, c.log);
  ReadWeb(r, root["web"], base_dir, c);
  ReadExceptions(r, root["exceptions"], c);
  ReadEnrollment(r, root["enrollment"], base_dir, c);

  if (!r.ok()) return r.ToError();
  return c;
}

Result<CollectorConfig> LoadCollectorConfig(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.error();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return ParseCollectorConfig(*text, path, dir.empty() ? "." : dir);
}

}  // namespace mamori
