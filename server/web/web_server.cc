#include "server/web/web_server.h"

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

#include "common/logging.h"

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

// One TLS connection: handshake, then requests until the client closes,
// asks to, or stays idle past the read timeout.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket&& socket, ssl::context& ctx, const WebHandler* handler,
             const WebLimits& limits)
      : stream_(std::move(socket), ctx), handler_(handler), limits_(limits) {}

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Connection::Handshake, shared_from_this()));
  }

 private:
  void Handshake() {
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::seconds(limits_.handshake_timeout_s));
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
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(limits_.read_timeout_s));
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
    try {
      response_ = std::make_shared<HttpResponse>(handler_->Handle(parser_->get()));
    } catch (const std::exception& e) {
      Log()->error("request handler failed: {}", e.what());
      response_ = std::make_shared<HttpResponse>(http::status::internal_server_error, 11);
      response_->keep_alive(false);
      response_->prepare_payload();
      ApplySecurityHeaders(*response_);
    }
    Write();
  }

  void Write() {
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
  const WebHandler* handler_;
  WebLimits limits_;
};

}  // namespace

struct WebServer::Impl {
  Impl(int threads, const WebHandler* h, WebLimits l)
      : ssl_ctx(ssl::context::tls_server),
        ioc(threads),
        acceptor(net::make_strand(ioc)),
        handler(h),
        limits(l) {}

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        std::make_shared<Connection>(std::move(socket), ssl_ctx, handler, limits)->Run();
      }
      Accept();
    });
  }

  // ssl_ctx outlives ioc: pending handlers destroyed with ioc own streams
  // made from it.
  ssl::context ssl_ctx;
  net::io_context ioc;
  tcp::acceptor acceptor;
  const WebHandler* handler;
  WebLimits limits;
};

WebServer::WebServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebServer::~WebServer() { Shutdown(); }

Result<std::unique_ptr<WebServer>> WebServer::Start(const WebConfig& config,
                                                    const WebHandler* handler, WebLimits limits) {
  auto impl = std::make_unique<Impl>(config.threads, handler, limits);
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
  Log()->info("dashboard listening on https://{}:{}", host, server->port_);
  return server;
}

void WebServer::Shutdown() {
  if (!impl_) return;
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  impl_->ioc.stop();
  threads_.clear();  // joins
  impl_.reset();
}

}  // namespace mamori::web
