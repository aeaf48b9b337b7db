#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

namespace mamori {

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
  // Connections one client address may hold at once; a connection beyond
  // it is closed as soon as it is accepted, so one address (a scanner, a
  // hostile host) cannot take the slots everyone else needs. 0 = an eighth
  // of max_connections, at least 8 (a browser opens about six) and at most
  // 32, never more than max_connections (EffectiveMaxConnectionsPerAddress).
  int max_connections_per_address = 0;
  // The TLS handshake must complete within this.
  int64_t handshake_timeout_ms = 5'000;
  // A request must arrive complete within this, counted from the end of
  // the handshake or of the previous response; a connection not yet signed
  // in is also closed when idle for this long. Headers dribbled byte by
  // byte (slowloris) are cut off by the same deadline.
  int64_t request_timeout_ms = 10'000;
  // How long a signed-in connection (one that carried a valid session)
  // may stay idle between requests.
  int64_t idle_timeout_ms = 30'000;
  int64_t session_ttl_ms = 8LL * 3600 * 1000;

  int EffectiveMaxConnectionsPerAddress() const {
    if (max_connections_per_address > 0) return max_connections_per_address;
    const int share = std::clamp(max_connections / 8, 8, 32);
    return std::min(share, max_connections);
  }
};

}  // namespace mamori
