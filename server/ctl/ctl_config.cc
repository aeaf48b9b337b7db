#include "server/ctl/ctl_config.h"

#include <utility>

#include "common/base/yaml_reader.h"

namespace mamori::ctl {
namespace {

constexpr int64_t kMaxTimeoutSeconds = 3600;

// Paths in a config file are relative to the file, so one can keep the
// config next to the certificates and call mamorictl from anywhere.
std::string RelativeTo(const std::string& config_path, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  const auto slash = config_path.rfind('/');
  if (slash == std::string::npos) return path;
  return config_path.substr(0, slash + 1) + path;
}

Status ApplyConfigFile(const std::string& path, ConnectionSettings* s) {
  Result<std::string> text = ReadFileToString(path);
  if (!text) return MakeError(ErrorCode::kIo, "config file " + text.error().message);
  YamlReader reader(path);
  YAML::Node root = reader.Load(*text);
  if (reader.ok() && reader.ExpectMap(root, "", {"collector", "tls"}, false)) {
    const YAML::Node collector = root["collector"];
    if (reader.ExpectMap(collector, "collector", {"address", "server_name"}, false)) {
      if (auto v = reader.String(collector, "address", "collector")) s->address = *v;
      if (auto v = reader.String(collector, "server_name", "collector")) s->server_name = *v;
    }
    const YAML::Node tls = root["tls"];
    if (reader.ExpectMap(tls, "tls", {"ca_file", "cert_file", "key_file"}, false)) {
      if (auto v = reader.String(tls, "ca_file", "tls")) s->tls.ca_file = RelativeTo(path, *v);
      if (auto v = reader.String(tls, "cert_file", "tls")) s->tls.cert_file = RelativeTo(path, *v);
      if (auto v = reader.String(tls, "key_file", "tls")) s->tls.key_file = RelativeTo(path, *v);
    }
  }
  if (!reader.ok()) return MakeError(ErrorCode::kFailedPrecondition, reader.ToError().message);
  return Status::Ok();
}

}  // namespace

std::vector<OptionSpec> ConnectionOptionSpecs() {
  return {
      {"collector", "HOST:PORT", "admin API address of the collector", false},
      {"ca", "FILE", "CA certificate the collector's certificate must chain to", false},
      {"cert", "FILE", "admin certificate (mamorictl pki issue admin)", false},
      {"key", "FILE", "private key of the admin certificate", false},
      {"server-name", "NAME", "name to verify in the collector's certificate (default: HOST)",
       false},
      {"config", "FILE", "connection settings file (default: $MAMORICTL_CONFIG)", false},
      {"timeout", "SECONDS", "deadline for each call (default 10)", false},
  };
}

Result<HostPort> ParseHostPort(std::string_view address) {
  const std::string text(address);
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "collector address \"" + text + "\": " + std::string(why) +
                         " (expected HOST:PORT, e.g. collector.example.lg.jp:7443 or [::1]:7443)");
  };
  HostPort hp;
  std::string_view port;
  if (address.starts_with('[')) {
    const auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return bad("malformed IPv6 literal");
    }
    hp.host = std::string(address.substr(1, close - 1));
    port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    hp.host = std::string(address.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return bad("put IPv6 addresses in brackets");
    port = address.substr(colon + 1);
  }
  if (hp.host.empty()) return bad("no host");
  Result<int64_t> p = ParseIntOption("collector", port, 1, 65535);
  if (!p) return bad("port must be a number between 1 and 65535");
  hp.port = static_cast<int>(*p);
  return hp;
}

Result<ConnectionSettings> ResolveConnection(const ParsedArgs& args,
                                             const std::optional<std::string>& env_config) {
  ConnectionSettings s;
  std::optional<std::string> config = args.Get("config");
  if (!config && env_config && !env_config->empty()) config = env_config;
  if (config) {
    if (Status st = ApplyConfigFile(*config, &s); !st) return st.error();
  }

  if (auto v = args.Get("collector")) s.address = *v;
  if (auto v = args.Get("server-name")) s.server_name = *v;
  if (auto v = args.Get("ca")) s.tls.ca_file = *v;
  if (auto v = args.Get("cert")) s.tls.cert_file = *v;
  if (auto v = args.Get("key")) s.tls.key_file = *v;
  if (auto v = args.Get("timeout")) {
    Result<int64_t> t = ParseIntOption("timeout", *v, 1, kMaxTimeoutSeconds);
    if (!t) return t.error();
    s.timeout_ms = *t * 1000;
  }

  auto missing = [](std::string_view what, std::string_view flag, std::string_view key) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no " + std::string(what) + ": pass " + std::string(flag) + " or set " +
                         std::string(key) + " in the config file (--config or $MAMORICTL_CONFIG)");
  };
  if (s.address.empty())
    return missing("collector address", "--collector HOST:PORT", "collector.address");
  if (s.tls.ca_file.empty()) return missing("CA certificate", "--ca FILE", "tls.ca_file");
  if (s.tls.cert_file.empty()) return missing("admin certificate", "--cert FILE", "tls.cert_file");
  if (s.tls.key_file.empty()) return missing("admin key", "--key FILE", "tls.key_file");

  Result<HostPort> hp = ParseHostPort(s.address);
  if (!hp) return hp.error();
  if (s.server_name.empty()) s.server_name = hp->host;
  return s;
}

}  // namespace mamori::ctl
