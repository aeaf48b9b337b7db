#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "common/base/result.h"
#include "server/web/http_handler.h"
#include "server/web/web_config.h"

namespace mamori::web {

// Limits of the HTTPS front end. The dashboard's requests are small: a
// login body is a few hundred bytes. The timeouts and the per-address share
// of the connections are the web: settings (WebConfig).
struct WebLimits {
  uint32_t header_bytes = 8 * 1024;
  uint64_t body_bytes = 64 * 1024;
  int write_timeout_s = 30;
};

// HTTPS (TLS 1.2+) with Boost.Beast. web.threads I/O threads do TLS and
// HTTP only; requests that read the store run on web.workers worker threads
// and logins on a lane of their own (see WorkKindOf), so a slow query or a
// burst of password hashing never stalls other connections. At most
// web.max_connections are open; more wait in the listen queue. One client
// address holds at most web.max_connections_per_address of them (more are
// closed at once), and a connection that does not complete its handshake
// and send a whole request within the web timeouts is closed, so neither
// idle nor dribbling connections from one host starve the others. Requests are
// handled by `handler`, which must outlive the server.
class WebServer {
 public:
  // Loads the certificate and key and binds web.listen. Errors name the
  // config field and file.
  static Result<std::unique_ptr<WebServer>> Start(const WebConfig& config,
                                                  const WebHandler* handler, WebLimits limits = {});
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  int port() const { return port_; }
  // Stops accepting, closes connections and joins the threads.
  void Shutdown();

 private:
  struct Impl;
  explicit WebServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  std::vector<std::jthread> threads_;
  int port_ = 0;
};

}  // namespace mamori::web
