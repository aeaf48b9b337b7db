#include "server/web/web_server.h"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/base/clock.h"
#include "common/base/logging.h"
#include "server/web/web_credentials.h"

namespace mamori::web {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("web");
  return log;
}

// Bounds the connections open at once. At the limit the server stops
// accepting, so further connections wait in the kernel's listen queue (their
// TLS handshake starts once a slot frees) instead of being reset: a browser
// opening a burst of connections gets served late rather than failed. The
// limit is logged once per burst: when it is reached (then at most once a
// minute while it keeps being reached, with a count) and when the open
// connections are down to half of it.
class ConnectionLimiter {
 public:
  ConnectionLimiter(int limit, int per_address) : limit_(limit), per_address_(per_address) {}

  // `resume` re-arms accepting after a pause; it is called with no lock held
  // by whichever thread frees a slot.
  void SetResume(std::function<void()> resume) {
    std::lock_guard lock(mu_);
    resume_ = std::move(resume);
  }
  // Takes a slot for the next accepted connection; false when none is free,
  // in which case the next Release resumes accepting.
  bool TryAcquire() {
    std::lock_guard lock(mu_);
    if (active_ < limit_) {
      ++active_;
      return true;
    }
    paused_ = true;
    ++pauses_;
    const auto now = std::chrono::steady_clock::now();
    if (!logged_ || now - last_log_ >= std::chrono::minutes(1)) {
      Log()->warn(
          "dashboard connection limit reached: {} connections open (web.max_connections); new "
          "connections wait in the listen queue until one closes{}",
          active_,
          pauses_ > 1 ? fmt::format(" (reached {} times since the last report)", pauses_) : "");
      logged_ = true;
      burst_ = true;
      last_log_ = now;
      pauses_ = 0;
    }
    return false;
  }
  void Release() {
    std::function<void()> resume;
    {
      std::lock_guard lock(mu_);
      --active_;
      if (burst_ && active_ <= limit_ / 2) {
        burst_ = false;
        Log()->info("dashboard connections down to {} of {}", active_, limit_);
      }
      if (paused_ && !closed_) {
        paused_ = false;
        resume = resume_;
      }
    }
    if (resume) resume();
  }
  // Counts a connection from `address` against its share; false (and the
  // connection is to be closed) when the address already holds its share.
  // Logged at most once a minute, with a count.
  bool AdmitAddress(const std::string& address) {
    std::lock_guard lock(mu_);
    int& held = by_address_[address];
    if (held < per_address_) {
      ++held;
      return true;
    }
    if (held == 0) by_address_.erase(address);
    ++address_refusals_;
    const auto now = std::chrono::steady_clock::now();
    if (address_refusals_ == 1 || now - last_address_log_ >= std::chrono::minutes(1)) {
      Log()->warn(
          "dashboard: {} already holds {} connections (web.max_connections_per_address); closed "
          "{} connection(s) beyond the share since the last report",
          address, held, address_refusals_);
      last_address_log_ = now;
      address_refusals_ = 0;
    }
    return false;
  }
  void ReleaseAddress(const std::string& address) {
    std::lock_guard lock(mu_);
    auto it = by_address_.find(address);
    if (it != by_address_.end() && --it->second <= 0) by_address_.erase(it);
  }
  // No more resuming: the server is stopping.
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }

 private:
  const int limit_;
  const int per_address_;
  std::mutex mu_;
  std::map<std::string, int> by_address_;  // guarded by mu_
  int64_t address_refusals_ = 0;           // guarded by mu_; since the last log line
  std::chrono::steady_clock::time_point last_address_log_;  // guarded by mu_
  int active_ = 0;       // guarded by mu_; open connections plus a pending accept
  bool paused_ = false;  // guarded by mu_
  bool closed_ = false;  // guarded by mu_
  bool logged_ = false;  // guarded by mu_
  bool burst_ = false;   // guarded by mu_; "reached" logged, "down" not yet
  int64_t pauses_ = 0;   // guarded by mu_; since the last "reached" line
  std::chrono::steady_clock::time_point last_log_;  // guarded by mu_
  std::function<void()> resume_;                    // guarded by mu_
};

// A connection's claim on the limiter (and, once admitted, on its
// address's share), returned when the connection goes.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::shared_ptr<ConnectionLimiter> limiter)
      : limiter_(std::move(limiter)) {}
  ~ConnectionSlot() {
    if (!limiter_) return;
    if (!address_.empty()) limiter_->ReleaseAddress(address_);
    limiter_->Release();
  }
  // Claims a share of `address`; false when it has none left.
  bool AdmitAddress(std::string address) {
    if (!limiter_->AdmitAddress(address)) return false;
    address_ = std::move(address);
    return true;
  }
  ConnectionSlot(ConnectionSlot&& other) noexcept = default;
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;

 private:
  std::shared_ptr<ConnectionLimiter> limiter_;
  std::string address_;
};

// Where requests that may block run, off the I/O threads: a pool for API
// requests and a single lane for logins, whose queue is bounded so a flood
// of login attempts is answered 503 instead of piling up.
struct WorkLanes {
  WorkLanes(int workers, const WebHandler* h) : handler(h), queries(workers), logins(1) {}

  static constexpr int kMaxQueuedLogins = 16;
  const WebHandler* handler;
  std::atomic<int> queued_logins{0};
  net::thread_pool queries;
  net::thread_pool logins;
};

// Runs the handler; an exception becomes a 500.
std::shared_ptr<HttpResponse> HandleSafely(const WebHandler* handler, const HttpRequest& request) {
  try {
    return std::make_shared<HttpResponse>(handler->Handle(request));
  } catch (const std::exception& e) {
    Log()->error("request handler failed: {}", e.what());
    auto res = std::make_shared<HttpResponse>(http::status::internal_server_error, 11);
    res->keep_alive(false);
    res->prepare_payload();
    ApplySecurityHeaders(*res);
    return res;
  }
}

// Whether `request` was an API call made with a valid session (or a login
// that opened one): only then may its connection idle for web.idle_timeout.
// The API answers 401 to a missing or expired session.
bool CarriesSession(const HttpRequest& request, const HttpResponse& response) {
  const int status = static_cast<int>(response.result_int());
  if (status < 200 || status >= 300) return false;
  if (!std::string_view(request.target().data(), request.target().size()).starts_with("/api/")) {
    return false;
  }
  const std::string session_prefix = std::string(kSessionCookie) + "=";
  const auto set = response.find(http::field::set_cookie);
  if (set != response.end()) {
    const std::string_view value(set->value().data(), set->value().size());
    // A login sets the cookie; a logout clears it.
    return value.starts_with(session_prefix) && value.size() > session_prefix.size() &&
           value[session_prefix.size()] != ';';
  }
  return request.find(http::field::cookie) != request.end();
}

// Whose share of the connection slots a client address uses: the address
// itself, but for IPv6 its /64, which one host usually has whole.
std::string ShareKey(const net::ip::address& address) {
  if (address.is_v6() && !address.to_v6().is_v4_mapped()) {
    net::ip::address_v6::bytes_type bytes = address.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return net::ip::address_v6(bytes).to_string() + "/64";
  }
  if (address.is_v6()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

// One TLS connection: handshake, then requests until the client closes,
// asks to, or stays idle past the read timeout.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket&& socket, ssl::context& ctx, WorkLanes* lanes, const WebLimits& limits,
             const WebConfig& config, ConnectionSlot slot)
      : stream_(std::move(socket), ctx),
        lanes_(lanes),
        limits_(limits),
        handshake_timeout_(config.handshake_timeout_ms),
        request_timeout_(config.request_timeout_ms),
        idle_timeout_(config.idle_timeout_ms),
        slot_(std::move(slot)) {}

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Connection::Handshake, shared_from_this()));
  }

 private:
  void Handshake() {
    beast::get_lowest_layer(stream_).expires_after(handshake_timeout_);
    stream_.async_handshake(
        ssl::stream_base::server,
        beast::bind_front_handler(&Connection::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      Log()->debug("TLS handshake failed: {}", ec.message());
      return;
    }
    Read();
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(limits_.header_bytes);
    parser_->body_limit(limits_.body_bytes);
    buffer_.consume(buffer_.size());
    // One deadline for waiting and reading: a connection not signed in
    // must bring a whole request within request_timeout, so idle and
    // dribbling connections go quickly; a signed-in one may idle longer.
    beast::get_lowest_layer(stream_).expires_after(signed_in_ ? idle_timeout_ : request_timeout_);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Connection::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec == http::error::header_limit || ec == http::error::body_limit ||
        ec == http::error::buffer_overflow) {
      response_ = std::make_shared<HttpResponse>(http::status::payload_too_large, 11);
      response_->set(http::field::content_type, "text/plain; charset=utf-8");
      response_->body() = "request too large\n";
      response_->keep_alive(false);
      response_->prepare_payload();
      ApplySecurityHeaders(*response_);
      draining_ = true;
      return Write();
    }
    if (ec) return;  // timeout, reset or a malformed request: just drop it
    const HttpRequest& request = parser_->get();
    switch (WorkKindOf(request)) {
      case WorkKind::kInline:
        response_ = HandleSafely(lanes_->handler, request);
        return Write();
      case WorkKind::kQuery:
        return net::post(lanes_->queries, [self = shared_from_this()] { self->Work(false); });
      case WorkKind::kLogin:
        if (lanes_->queued_logins.fetch_add(1) >= WorkLanes::kMaxQueuedLogins) {
          lanes_->queued_logins.fetch_sub(1);
          Log()->warn("refused a login: {} logins already waiting", WorkLanes::kMaxQueuedLogins);
          auto busy = JsonError(request, http::status::service_unavailable,
                                "too many logins in progress; try again in a moment");
          busy.set(http::field::retry_after, "1");
          response_ = std::make_shared<HttpResponse>(std::move(busy));
          return Write();
        }
        return net::post(lanes_->logins, [self = shared_from_this()] { self->Work(true); });
    }
  }

  // On a worker: nothing else touches the connection until the response is
  // handed back to its strand.
  void Work(bool login) {
    auto response = HandleSafely(lanes_->handler, parser_->get());
    if (login) lanes_->queued_logins.fetch_sub(1);
    net::post(stream_.get_executor(), [self = shared_from_this(), response]() mutable {
      self->response_ = std::move(response);
      self->Write();
    });
  }

  void Write() {
    if (!draining_) signed_in_ = CarriesSession(parser_->get(), *response_);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(limits_.write_timeout_s));
    http::async_write(
        stream_, *response_,
        beast::bind_front_handler(&Connection::OnWrite, shared_from_this(), response_->need_eof()));
  }

  void OnWrite(bool close, beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return;
    if (close && draining_) return Drain();
    if (close) return Close();
    response_.reset();
    Read();
  }

  // The client may still be sending the body we refused; closing with
  // unread input makes the kernel reset the connection and the client lose
  // the 413. Read and discard a bounded amount first.
  void Drain() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec) return;
                              if (self->drained_ > kMaxDrainBytes) return self->Close();
                              self->Drain();
                            });
  }

  void Close() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  static constexpr std::size_t kMaxDrainBytes = 1024 * 1024;
  bool draining_ = false;
  std::size_t drained_ = 0;
  std::array<char, 16 * 1024> drain_buffer_{};
  WorkLanes* lanes_;
  WebLimits limits_;
  const std::chrono::milliseconds handshake_timeout_;
  const std::chrono::milliseconds request_timeout_;
  const std::chrono::milliseconds idle_timeout_;
  // The last request was an API call answered with a valid session.
  bool signed_in_ = false;
  ConnectionSlot slot_;
};

}  // namespace

struct WebServer::Impl {
  Impl(const WebConfig& c, const WebHandler* h, WebLimits l)
      : config(c),
        ssl_ctx(ssl::context::tls_server),
        ioc(config.threads),
        acceptor(net::make_strand(ioc)),
        limits(l),
        limiter(std::make_shared<ConnectionLimiter>(config.max_connections,
                                                    config.EffectiveMaxConnectionsPerAddress())),
        lanes(config.workers, h) {
    limiter->SetResume([this] { net::post(acceptor.get_executor(), [this] { Accept(); }); });
  }

  // On the acceptor's strand.
  void Accept() {
    if (!limiter->TryAcquire()) return;  // a closing connection resumes
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      ConnectionSlot slot(limiter);
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        beast::error_code option_ec;
        const tcp::endpoint remote = socket.remote_endpoint(option_ec);
        if (option_ec || !slot.AdmitAddress(ShareKey(remote.address()))) {
          // Beyond the address's share (or already gone): closed at once,
          // with a reset, so the slot is free again before anything is read.
          socket.set_option(net::socket_base::linger(true, 0), option_ec);
          socket.close(option_ec);
          return Accept();
        }
        // A response spans several TLS records; with Nagle's algorithm the
        // last one waits for the client's delayed ACK (40 ms on Linux).
        socket.set_option(tcp::no_delay(true), option_ec);
        std::make_shared<Connection>(std::move(socket), ssl_ctx, &lanes, limits, config,
                                     std::move(slot))
            ->Run();
      }
      Accept();
    });
  }

  // ssl_ctx outlives ioc: pending handlers destroyed with ioc own streams
  // made from it. lanes go first: jobs still queued there hold connections,
  // whose sockets belong to ioc.
  const WebConfig config;
  ssl::context ssl_ctx;
  net::io_context ioc;
  tcp::acceptor acceptor;
  WebLimits limits;
  std::shared_ptr<ConnectionLimiter> limiter;
  WorkLanes lanes;
};

WebServer::WebServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebServer::~WebServer() { Shutdown(); }

Result<std::unique_ptr<WebServer>> WebServer::Start(const WebConfig& config,
                                                    const WebHandler* handler, WebLimits limits) {
  if (Status s = CheckWebCredentials(config, SystemClock().NowMs()); !s.ok()) return s.error();
  auto impl = std::make_unique<Impl>(config, handler, limits);
  beast::error_code ec;
  impl->ssl_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                            ec);
  SSL_CTX_set_min_proto_version(impl->ssl_ctx.native_handle(), TLS1_2_VERSION);
  impl->ssl_ctx.use_certificate_chain_file(config.cert_file, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "web.cert_file " + config.cert_file + ": cannot load: " + ec.message());
  }
  impl->ssl_ctx.use_private_key_file(config.key_file, ssl::context::pem, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "web.key_file " + config.key_file + ": cannot load: " + ec.message());
  }
  if (SSL_CTX_check_private_key(impl->ssl_ctx.native_handle()) != 1) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "web.key_file " + config.key_file + " does not match web.cert_file " + config.cert_file);
  }

  const auto colon = config.listen.rfind(':');
  std::string host = config.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "web.listen " + config.listen + ": host must be an IP address");
  }
  int port_number = 0;
  try {
    port_number = std::stoi(config.listen.substr(colon + 1));
  } catch (const std::exception&) {
    port_number = -1;
  }
  if (port_number < 0 || port_number > 65535) {
    return MakeError(ErrorCode::kInvalidArgument, "web.listen " + config.listen + ": bad port");
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port_number));
  if (impl->acceptor.open(endpoint.protocol(), ec); ec) {
    return MakeError(ErrorCode::kUnavailable, "web.listen " + config.listen + ": " + ec.message());
  }
  impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (impl->acceptor.bind(endpoint, ec); ec) {
    return MakeError(ErrorCode::kUnavailable,
                     "web.listen " + config.listen + ": cannot bind: " + ec.message());
  }
  if (impl->acceptor.listen(net::socket_base::max_listen_connections, ec); ec) {
    return MakeError(ErrorCode::kUnavailable,
                     "web.listen " + config.listen + ": cannot listen: " + ec.message());
  }
  std::unique_ptr<WebServer> server(new WebServer(std::move(impl)));
  server->port_ = server->impl_->acceptor.local_endpoint().port();
  server->impl_->Accept();
  for (int i = 0; i < config.threads; ++i) {
    server->threads_.emplace_back([ioc = &server->impl_->ioc] {
      try {
        ioc->run();
      } catch (const std::exception& e) {
        Log()->error("web thread stopped: {}", e.what());
      }
    });
  }
  Log()->info(
      "dashboard listening on https://{}:{} ({} I/O thread(s), {} worker(s), at most {} "
      "connections, {} per address)",
      host, server->port_, config.threads, config.workers, config.max_connections,
      config.EffectiveMaxConnectionsPerAddress());
  return server;
}

void WebServer::Shutdown() {
  if (!impl_) return;
  impl_->limiter->Close();
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  impl_->ioc.stop();
  threads_.clear();  // joins
  // Requests being handled finish; queued ones are dropped with their
  // connections.
  impl_->lanes.queries.stop();
  impl_->lanes.logins.stop();
  impl_->lanes.queries.join();
  impl_->lanes.logins.join();
  impl_.reset();
}

}  // namespace mamori::web
