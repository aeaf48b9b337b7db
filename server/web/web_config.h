#pragma once

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
  int64_t session_ttl_ms = 8LL * 3600 * 1000;
};

}  // namespace mamori
