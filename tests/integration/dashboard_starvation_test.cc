// The dashboard cannot be starved by one host: a flood of idle TCP and TLS
// connections from 127.0.0.2 (loopback has the whole of 127/8) takes no
// more than that address's share of the connection slots, so a user on
// 127.0.0.1 still signs in (password and TOTP over real HTTPS) at once; a
// request dribbled byte by byte is cut off by the request deadline.

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "tests/integration/web_client.h"

namespace mamori::testing {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

class DashboardStarvationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short deadlines keep the test quick; the defaults are 5 s and 10 s.
    web_.emplace(pki_, dir_, "  handshake_timeout: 2s\n  request_timeout: 5s\n");
    ASSERT_TRUE(web_->Start()) << web_->collector().Log();
    ssl_ctx_.set_verify_mode(ssl::verify_none);
  }

  // A TCP connection to the dashboard from `source`.
  std::unique_ptr<tcp::socket> Connect(const char* source) {
    auto s = std::make_unique<tcp::socket>(ioc_);
    s->open(tcp::v4());
    s->bind(tcp::endpoint(net::ip::make_address(source), 0));
    boost::system::error_code ec;
    s->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                             static_cast<unsigned short>(web_->web_port())),
               ec);
    if (ec) return nullptr;
    return s;
  }

  // A TLS connection from `source` that completed its handshake, or null.
  std::unique_ptr<beast::ssl_stream<tcp::socket>> ConnectTls(const char* source) {
    auto tcp_socket = Connect(source);
    if (!tcp_socket) return nullptr;
    auto stream =
        std::make_unique<beast::ssl_stream<tcp::socket>>(std::move(*tcp_socket), ssl_ctx_);
    // A bounded wait: a connection beyond the share is reset, not left hanging.
    timeval tv{3, 0};
    setsockopt(stream->next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    boost::system::error_code ec;
    stream->handshake(ssl::stream_base::client, ec);
    if (ec) return nullptr;
    return stream;
  }

  TempDir dir_;
  TestPki pki_;
  std::optional<WebCollector> web_;
  net::io_context ioc_;
  ssl::context ssl_ctx_{ssl::context::tls_client};
};

TEST_F(DashboardStarvationTest, IdleFloodFromOneAddressDoesNotKeepAUserOut) {
  const auto [password, secret] = web_->AddUser("alice", "viewer");

  // Hundreds of idle TLS connections, then hundreds of idle TCP ones, all
  // from 127.0.0.2 and all kept open by this test.
  std::vector<std::unique_ptr<beast::ssl_stream<tcp::socket>>> tls;
  int tls_established = 0;
  const auto flood_start = Clock::now();
  for (int i = 0; i < 100; ++i) {
    auto s = ConnectTls("127.0.0.2");
    if (s) ++tls_established;
    tls.push_back(std::move(s));
  }
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 400; ++i) idle.push_back(Connect("127.0.0.2"));
  const double flood_s = std::chrono::duration<double>(Clock::now() - flood_start).count();
  std::printf(
      "from 127.0.0.2: %d of 100 TLS handshakes completed, 400 idle TCP connections "
      "opened, in %.1f s\n",
      tls_established, flood_s);
  // A user on 127.0.0.1 signs in at once, while the flood is still open.
  const auto start = Clock::now();
  WebReply r = web_->web().Send(boost::beast::http::verb::post, "/api/login", {},
                                "{\"name\":\"alice\",\"password\":\"" + password +
                                    "\",\"code\":\"" + WebCollector::Code(secret) + "\"}");
  const double login_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::printf("login from 127.0.0.1 during the flood: %.1f ms (status %d)\n", login_ms, r.status);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.Header("Set-Cookie").find("mamori_session="), std::string::npos);
  EXPECT_LT(login_ms, 1000.0);

  // The address holds at most its share (32 of 256 by default); a slot
  // freed by the request deadline may be taken again if the flood was slow.
  if (flood_s < 4.0) {
    EXPECT_LE(tls_established, 32);
  }
  EXPECT_GT(tls_established, 0);
  EXPECT_TRUE(web_->collector().WaitForLog("already holds 32 connections", std::chrono::seconds(5)))
      << web_->collector().Log();

  // The idle TLS connections that did get a slot are closed once the
  // request deadline passes without a request.
  auto* held = [&]() -> beast::ssl_stream<tcp::socket>* {
    for (auto& s : tls) {
      if (s) return s.get();
    }
    return nullptr;
  }();
  ASSERT_NE(held, nullptr);
  const auto wait_start = Clock::now();
  char byte = 0;
  boost::system::error_code ec;
  timeval tv{10, 0};
  setsockopt(held->next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  held->read_some(net::buffer(&byte, 1), ec);
  const double closed_after_s = std::chrono::duration<double>(Clock::now() - wait_start).count();
  std::printf("idle TLS connection closed by the dashboard after %.1f s more\n", closed_after_s);
  EXPECT_TRUE(ec) << "the idle connection was not closed";
  EXPECT_LT(closed_after_s, 8.0);
}

TEST_F(DashboardStarvationTest, SlowlorisIsCutOffByTheRequestDeadline) {
  auto stream = ConnectTls("127.0.0.3");
  ASSERT_NE(stream, nullptr);
  // Headers that never end, one byte every 100 ms.
  const std::string dribble =
      "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + std::string(400, 'a');
  const auto start = Clock::now();
  boost::system::error_code ec;
  std::size_t sent = 0;
  for (; sent < dribble.size(); ++sent) {
    net::write(*stream, net::buffer(&dribble[sent], 1), ec);
    if (ec) break;
    // Once the dashboard has closed the connection, a write fails.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (Clock::now() - start > std::chrono::seconds(15)) break;
  }
  // The server closed the connection: the next read fails at once.
  timeval tv{5, 0};
  setsockopt(stream->next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char byte = 0;
  boost::system::error_code read_ec;
  stream->read_some(net::buffer(&byte, 1), read_ec);
  const double cut_after_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("slowloris connection cut after %.1f s and %zu of %zu header bytes\n", cut_after_s,
              sent, dribble.size());
  EXPECT_TRUE(read_ec);
  EXPECT_LT(sent, dribble.size());
  EXPECT_LT(cut_after_s, 5.0 + 3.0);  // request_timeout 5 s, plus slack
}

}  // namespace
}  // namespace mamori::testing
