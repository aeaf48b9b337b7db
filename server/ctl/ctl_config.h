#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/crypto/credentials.h"
#include "server/ctl/args.h"

namespace mamori::ctl {

// Where and how mamorictl reaches the collector's admin API.
struct ConnectionSettings {
  std::string address;      // HOST:PORT, "[::1]:7443" for IPv6
  std::string server_name;  // name the collector's certificate must carry
  TlsFiles tls;             // admin certificate, key and the deployment CA
  int64_t timeout_ms = 10'000;
};

// The connection options every admin command accepts.
std::vector<OptionSpec> ConnectionOptionSpecs();

// Combines, lowest precedence first: defaults, the config file (--config,
// else $MAMORICTL_CONFIG when `env_config` is set and not empty), then
// flags. The file looks like
//
//   collector:
//     address: collector.example.lg.jp:7443
//     server_name: collector.example.lg.jp   # optional
//   tls:
//     ca_file: ca.pem                        # relative to the config file
//     cert_file: admin-alice.pem
//     key_file: admin-alice.key
//
// Errors with code kInvalidArgument are usage errors (a required setting
// missing, a malformed flag); others concern the config file.
Result<ConnectionSettings> ResolveConnection(const ParsedArgs& args,
                                             const std::optional<std::string>& env_config);

// Splits "host:port" / "[v6]:port"; the error says what is wrong.
struct HostPort {
  std::string host;  // without brackets
  int port = 0;
};
Result<HostPort> ParseHostPort(std::string_view address);

}  // namespace mamori::ctl
