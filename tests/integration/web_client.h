#pragma once

// The dashboard over real HTTPS for integration tests: a collector with a
// web section, a client that verifies the collector's certificate against
// the test CA, and users created with mamorictl.

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "server/accounts/totp.h"
#include "tests/integration/harness.h"

namespace mamori::testing {

struct WebReply {
  int status = 0;
  std::string body;
  boost::beast::http::response<boost::beast::http::string_body> raw;
  std::string Header(std::string_view name) const {
    const auto it = raw.find(boost::beast::string_view(name.data(), name.size()));
    return it == raw.end() ? "" : std::string(it->value());
  }
};

// A logged-in dashboard session.
struct WebSession {
  std::string token;
  std::string csrf;
};

// One HTTPS request per connection, verifying the server certificate.
class WebClient {
 public:
  WebClient(std::string ca_file, int port) : ca_file_(std::move(ca_file)), port_(port) {}

  WebReply Send(boost::beast::http::verb verb, const std::string& target,
                const WebSession& session = {}, const std::string& body = "",
                bool with_csrf = true) const {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "localhost:" + std::to_string(port_));
    if (!session.token.empty()) req.set(http::field::cookie, "mamori_session=" + session.token);
    if (with_csrf && !session.csrf.empty()) req.set("X-CSRF-Token", session.csrf);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    namespace net = boost::asio;
    namespace ssl = net::ssl;
    net::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(ca_file_);
    ctx.set_verify_mode(ssl::verify_peer);
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream(ioc, ctx);
    // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
    static char server_name[] = "localhost";
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             server_name);
    stream.set_verify_callback(ssl::host_name_verification("localhost"));
    boost::beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(20));
    boost::beast::get_lowest_layer(stream).connect(net::ip::tcp::endpoint(
        net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)));
    stream.handshake(ssl::stream_base::client);
    http::write(stream, req);
    boost::beast::flat_buffer buffer;
    WebReply reply;
    boost::beast::error_code ec;
    http::read(stream, buffer, reply.raw, ec);
    if (ec) return reply;
    reply.status = static_cast<int>(reply.raw.result_int());
    reply.body = reply.raw.body();
    stream.shutdown(ec);
    return reply;
  }

 private:
  std::string ca_file_;
  int port_;
};

// "label:   value" in mamorictl's output.
inline std::string OutputField(const std::string& text, const std::string& label) {
  const auto pos = text.find(label);
  if (pos == std::string::npos) return "";
  const auto start = text.find_first_not_of(' ', pos + label.size());
  return text.substr(start, text.find('\n', start) - start);
}

// The string value of "key" in a JSON text (first occurrence).
inline std::string JsonField(const std::string& body, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  const auto pos = body.find(needle);
  if (pos == std::string::npos) return "";
  const auto start = pos + needle.size();
  return body.substr(start, body.find('"', start) - start);
}

// A collector with the dashboard on 127.0.0.1 and a port of its choosing.
class WebCollector {
 public:
  // `web_extra`: more lines of the web section, each indented by two spaces.
  WebCollector(TestPki& pki, const TempDir& dir, const std::string& web_extra = "")
      : pki_(pki), port_file_(dir.File("web.port")) {
    const TlsPaths server = pki.Server();
    collector_.emplace(pki, dir,
                       "web:\n  listen: 127.0.0.1:0\n  port_file: " + port_file_ +
                           "\n  cert_file: " + server.cert + "\n  key_file: " + server.key +
                           "\n  threads: 2\n" + web_extra);
  }

  // Starts the collector and waits for its web port.
  bool Start() {
    if (!collector_->Start()) return false;
    for (int i = 0; i < 200 && web_port_ == 0; ++i) {
      std::ifstream in(port_file_);
      if (!(in >> web_port_)) {
        web_port_ = 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    if (web_port_ == 0) return false;
    client_.emplace(pki_.ca_file(), web_port_);
    return true;
  }

  CollectorProcess& collector() { return *collector_; }
  const WebClient& web() const { return *client_; }
  int web_port() const { return web_port_; }

  // Adds a user with mamorictl; returns {password, base32 TOTP secret}.
  std::pair<std::string, std::string> AddUser(const std::string& name, const std::string& role) {
    CommandResult r = collector_->Ctl({"user", "add", name, "--role", role});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string uri = OutputField(r.out, "otpauth:");
    const auto start = uri.find("secret=") + 7;
    return {OutputField(r.out, "password:"), uri.substr(start, uri.find('&', start) - start)};
  }

  static std::string Code(const std::string& base32_secret) {
    return web::TotpCode(web::Base32Decode(base32_secret).value_or(""),
                         std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
  }

  // Adds the user and logs in.
  WebSession Login(const std::string& name, const std::string& role) {
    const auto [password, secret] = AddUser(name, role);
    WebReply r = client_->Send(boost::beast::http::verb::post, "/api/login", {},
                               "{\"name\":\"" + name + "\",\"password\":\"" + password +
                                   "\",\"code\":\"" + Code(secret) + "\"}");
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string cookie = r.Header("Set-Cookie");
    const auto eq = cookie.find('=');
    return {cookie.substr(eq + 1, cookie.find(';') - eq - 1), JsonField(r.body, "csrfToken")};
  }

 private:
  TestPki& pki_;
  std::string port_file_;
  std::optional<CollectorProcess> collector_;
  std::optional<WebClient> client_;
  int web_port_ = 0;
};

}  // namespace mamori::testing
