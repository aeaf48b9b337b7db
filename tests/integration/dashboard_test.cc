// The dashboard over real HTTPS: a collector process with the web section,
// users created with mamorictl, a TLS client that verifies the collector's
// certificate, and an agent reporting a device with a hostile product name.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <thread>

#include "server/accounts/totp.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct Reply {
  int status = 0;
  std::string body;
  http::response<http::string_body> raw;
  std::string Header(std::string_view name) const {
    const auto it = raw.find(beast::string_view(name.data(), name.size()));
    return it == raw.end() ? "" : std::string(it->value());
  }
};

struct Credentials {
  std::string password;
  std::string secret;
};

// One HTTPS request on a fresh connection, verifying the server certificate
// against the test CA and its name.
class HttpsClient {
 public:
  HttpsClient(std::string ca_file, int port) : ca_file_(std::move(ca_file)), port_(port) {}

  Reply Send(http::verb verb, const std::string& target, const std::string& cookie = "",
             const std::string& csrf = "", const std::string& body = "") const {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "localhost:" + std::to_string(port_));
    if (!cookie.empty()) req.set(http::field::cookie, "mamori_session=" + cookie);
    if (!csrf.empty()) req.set("X-CSRF-Token", csrf);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    return Exchange(req);
  }

  Reply Exchange(http::request<http::string_body>& req) const {
    net::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(ca_file_);
    ctx.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
    static char server_name[] = "localhost";
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             server_name);
    stream.set_verify_callback(ssl::host_name_verification("localhost"));
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)));
    stream.handshake(ssl::stream_base::client);
    http::write(stream, req);
    beast::flat_buffer buffer;
    Reply reply;
    beast::error_code ec;
    http::read(stream, buffer, reply.raw, ec);
    if (ec) return reply;
    reply.status = static_cast<int>(reply.raw.result_int());
    reply.body = reply.raw.body();
    stream.shutdown(ec);
    return reply;
  }

  int port() const { return port_; }

 private:
  std::string ca_file_;
  int port_;
};

std::string Field(const std::string& text, const std::string& label) {
  const auto pos = text.find(label);
  if (pos == std::string::npos) return "";
  const auto start = text.find_first_not_of(' ', pos + label.size());
  return text.substr(start, text.find('\n', start) - start);
}

std::string JsonString(const std::string& body, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  const auto pos = body.find(needle);
  if (pos == std::string::npos) return "";
  const auto start = pos + needle.size();
  return body.substr(start, body.find('"', start) - start);
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    web_port_file_ = dir_.File("web.port");
    const TlsPaths server = pki_.Server();
    collector_.emplace(pki_, dir_,
                       "web:\n  listen: 127.0.0.1:0\n  port_file: " + web_port_file_ +
                           "\n  cert_file: " + server.cert + "\n  key_file: " + server.key +
                           "\n  threads: 2\n" + web_extra_);
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
    // The collector writes its web port file just after its gRPC one.
    int port = 0;
    for (int i = 0; i < 100 && port == 0; ++i) {
      std::ifstream in(web_port_file_);
      if (!(in >> port)) {
        port = 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    ASSERT_GT(port, 0) << collector_->Log();
    client_.emplace(pki_.ca_file(), port);
  }

  Credentials AddUser(const std::string& name, const std::string& role) {
    CommandResult r = collector_->Ctl({"user", "add", name, "--role", role});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    Credentials c;
    c.password = Field(r.out, "password:");
    const std::string uri = Field(r.out, "otpauth:");
    EXPECT_TRUE(uri.starts_with("otpauth://totp/Mamori:" + name + "?secret=")) << r.out;
    const auto start = uri.find("secret=") + 7;
    c.secret = web::Base32Decode(uri.substr(start, uri.find('&', start) - start)).value_or("");
    return c;
  }

  static std::string Code(const Credentials& c) {
    return web::TotpCode(c.secret, std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  }

  // {session token, CSRF token}
  std::pair<std::string, std::string> Login(const std::string& name, const Credentials& c) {
    Reply r = client_->Send(http::verb::post, "/api/login", "", "",
                            "{\"name\":\"" + name + "\",\"password\":\"" + c.password +
                                "\",\"code\":\"" + Code(c) + "\"}");
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string cookie = r.Header("Set-Cookie");
    EXPECT_NE(cookie.find("; Secure; HttpOnly; SameSite=Strict; Max-Age="), std::string::npos)
        << cookie;
    const auto eq = cookie.find('=');
    return {cookie.substr(eq + 1, cookie.find(';') - eq - 1), JsonString(r.body, "csrfToken")};
  }

  static void ExpectSecurityHeaders(const Reply& r) {
    EXPECT_NE(r.Header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
    EXPECT_NE(r.Header("Content-Security-Policy").find("frame-ancestors 'none'"),
              std::string::npos);
    EXPECT_NE(r.Header("Strict-Transport-Security").find("max-age="), std::string::npos);
    EXPECT_EQ(r.Header("X-Frame-Options"), "DENY");
    EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.Header("Referrer-Policy"), "no-referrer");
  }

  TempDir dir_;
  TestPki pki_;
  // More lines of the collector's web section, set by derived fixtures.
  std::string web_extra_;
  std::string web_port_file_;
  std::optional<CollectorProcess> collector_;
  std::optional<HttpsClient> client_;
};

TEST_F(DashboardTest, StaticAssetsOverHttpsWithHeadersAndTraversalRefused) {
  Reply index = client_->Send(http::verb::get, "/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("<script src=\"/app.js\" defer></script>"), std::string::npos);
  ExpectSecurityHeaders(index);
  Reply js = client_->Send(http::verb::get, "/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.Header("Content-Type"), "text/javascript; charset=utf-8");
  Reply ja = client_->Send(http::verb::get, "/i18n/ja.json");
  EXPECT_NE(ja.body.find("ログイン"), std::string::npos);
  for (const char* target : {"/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                             "/i18n/..%2f..%2fcollector.yaml", "/..\\..\\etc\\passwd"}) {
    Reply r = client_->Send(http::verb::get, target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos);
    ExpectSecurityHeaders(r);
  }
  // Oversized requests are cut off.
  Reply big = client_->Send(http::verb::post, "/api/login", "", "", std::string(200 * 1024, 'x'));
  EXPECT_EQ(big.status, 413);
}

TEST_F(DashboardTest, OldTlsVersionsAndOversizedHeadersAreRefused) {
  // TLS 1.1 is refused at the handshake.
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_none);
  SSL_CTX_set_security_level(ctx.native_handle(), 0);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(stream).connect(tcp::endpoint(
      net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(client_->port())));
  beast::error_code ec;
  stream.handshake(ssl::stream_base::client, ec);
  EXPECT_TRUE(ec) << "a TLS 1.1 handshake succeeded";

  http::request<http::string_body> req{http::verb::get, "/", 11};
  req.set(http::field::host, "localhost");
  req.set("X-Padding", std::string(16 * 1024, 'p'));
  EXPECT_EQ(client_->Exchange(req).status, 413);
}

TEST_F(DashboardTest, CollectorStopsCleanlyWithOpenDashboardConnections) {
  // An idle keep-alive connection mid-handshake and one that finished a
  // request must not hold the collector up.
  net::io_context ioc;
  tcp::socket idle(ioc);
  idle.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                             static_cast<unsigned short>(client_->port())));
  EXPECT_EQ(client_->Send(http::verb::get, "/").status, 200);
  collector_->process().Signal(SIGTERM);
  const std::optional<int> exit_code = collector_->process().Wait(std::chrono::seconds(10));
  ASSERT_TRUE(exit_code.has_value()) << "collector did not stop";
  EXPECT_EQ(*exit_code, 0) << collector_->Log();
}

TEST_F(DashboardTest, LoginWithTotpRolesCsrfAndSessions) {
  const Credentials admin = AddUser("alice", "admin");
  const Credentials viewer = AddUser("victor", "viewer");
  EXPECT_NE(collector_->Ctl({"user", "add", "bad", "--role", "root"}).exit_code, 0);

  EXPECT_EQ(client_->Send(http::verb::get, "/api/overview").status, 401);
  Reply wrong = client_->Send(
      http::verb::post, "/api/login", "", "",
      "{\"name\":\"victor\",\"password\":\"" + viewer.password + "\",\"code\":\"000000\"}");
  EXPECT_EQ(wrong.status, Code(viewer) == "000000" ? 200 : 401);

  auto [viewer_token, viewer_csrf] = Login("victor", viewer);
  auto [admin_token, admin_csrf] = Login("alice", admin);
  ASSERT_EQ(viewer_token.size(), 64u);

  Reply overview = client_->Send(http::verb::get, "/api/overview", viewer_token);
  EXPECT_EQ(overview.status, 200) << overview.body;
  EXPECT_EQ(overview.Header("Content-Type"), "application/json; charset=utf-8");
  ExpectSecurityHeaders(overview);
  Reply me = client_->Send(http::verb::get, "/api/me", viewer_token);
  EXPECT_EQ(JsonString(me.body, "role"), "viewer");

  // Role: a viewer may not manage users, an admin may.
  (void)AddUser("target", "viewer");
  EXPECT_EQ(client_->Send(http::verb::post, "/api/users/target/disable", viewer_token, viewer_csrf)
                .status,
            403);
  // CSRF: missing, or another session's token.
  EXPECT_EQ(client_->Send(http::verb::post, "/api/users/target/disable", admin_token).status, 403);
  EXPECT_EQ(
      client_->Send(http::verb::post, "/api/users/target/disable", admin_token, viewer_csrf).status,
      403);
  EXPECT_EQ(
      client_->Send(http::verb::post, "/api/users/target/disable", admin_token, admin_csrf).status,
      200);

  // Sessions: a made-up token, a logged-out one, one of a disabled user.
  EXPECT_EQ(client_->Send(http::verb::get, "/api/me", std::string(64, 'a')).status, 401);
  EXPECT_EQ(client_->Send(http::verb::post, "/api/logout", viewer_token, viewer_csrf).status, 200);
  EXPECT_EQ(client_->Send(http::verb::get, "/api/overview", viewer_token).status, 401);
  CommandResult disable = collector_->Ctl({"user", "disable", "alice"});
  EXPECT_EQ(disable.exit_code, 0) << disable.err;
  EXPECT_EQ(client_->Send(http::verb::get, "/api/me", admin_token).status, 401);

  EXPECT_TRUE(collector_->WaitForLog("missing or wrong CSRF token", std::chrono::seconds(5)));
}

TEST_F(DashboardTest, LockoutAfterFiveFailures) {
  const Credentials c = AddUser("mallory", "viewer");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(client_
                  ->Send(http::verb::post, "/api/login", "", "",
                         R"({"name":"mallory","password":"guess","code":"123456"})")
                  .status,
              401);
  }
  Reply locked = client_->Send(
      http::verb::post, "/api/login", "", "",
      "{\"name\":\"mallory\",\"password\":\"" + c.password + "\",\"code\":\"" + Code(c) + "\"}");
  EXPECT_EQ(locked.status, 401);
  EXPECT_TRUE(collector_->WaitForLog("account locked for 900 s", std::chrono::seconds(5)));
  // An admin's reset unlocks it.
  CommandResult reset = collector_->Ctl({"user", "reset", "mallory"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
}

TEST_F(DashboardTest, HostileDeviceStringsComeBackAsJsonText) {
  AgentProcess agent(pki_, dir_, *collector_, "t-web-1", "osaka/suita");
  agent.Plug("evil",
             "vendor_id: \"0781\"\nproduct_id: \"5581\"\nserial: \"S1\"\n"
             "manufacturer: \"<img src=x onerror=alert(1)>\"\n"
             "product: \"<script>alert('x')</script>\"\n"
             "class: mass_storage\ninterfaces: [mass_storage]\nbus_path: \"1-2\"\n");
  agent.Start();
  const Credentials c = AddUser("olivia", "operator");
  auto [token, csrf] = Login("olivia", c);
  Reply detail;
  for (int i = 0; i < 100; ++i) {
    detail = client_->Send(http::verb::get, "/api/terminals/t-web-1", token);
    if (detail.status == 200 && detail.body.find("alert") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(detail.status, 200) << detail.body << agent.Log();
  EXPECT_EQ(detail.Header("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(detail.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(detail.body.find("alert('x')"), std::string::npos) << detail.body;
  Reply overview = client_->Send(http::verb::get, "/api/overview", token);
  EXPECT_NE(overview.body.find("\"group\":\"osaka/suita\""), std::string::npos) << overview.body;
  Reply list = client_->Send(http::verb::get, "/api/terminals?group=osaka&page=0", token);
  EXPECT_NE(list.body.find("\"terminalId\":\"t-web-1\""), std::string::npos) << list.body;
}

// The value of a string field in protobuf's JSON, whose escapes (\u0026
// for '&', \u003c for '<') are undone.
std::string JsonText(const std::string& body, const std::string& key) {
  const std::string needle = "\"" + key + "\":\"";
  const auto pos = body.find(needle);
  if (pos == std::string::npos) return "";
  std::string out;
  for (std::size_t i = pos + needle.size(); i < body.size() && body[i] != '"'; ++i) {
    if (body[i] == '\\' && i + 5 < body.size() && body[i + 1] == 'u') {
      out.push_back(static_cast<char>(std::stoi(body.substr(i + 2, 4), nullptr, 16)));
      i += 5;
      continue;
    }
    if (body[i] == '\\' && i + 1 < body.size()) ++i;
    out.push_back(body[i]);
  }
  return out;
}

TEST_F(DashboardTest, AdminManagesUsersInTheDashboardAndTheNewUserLogsIn) {
  // mamorictl draws the otpauth URI as a QR code under it, unless told not to.
  CommandResult first = collector_->Ctl({"user", "add", "alice", "--role", "admin"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto uri_at = first.out.find("otpauth:");
  const auto qr_at = first.out.find("\u2588\u2588\u2588\u2588\u2588\u2588\u2588");
  EXPECT_NE(qr_at, std::string::npos) << first.out;
  EXPECT_LT(uri_at, qr_at);
  Credentials admin;
  admin.password = Field(first.out, "password:");
  const std::string admin_uri = Field(first.out, "otpauth:");
  const auto secret_at = admin_uri.find("secret=") + 7;
  admin.secret =
      web::Base32Decode(admin_uri.substr(secret_at, admin_uri.find('&', secret_at) - secret_at))
          .value_or("");
  CommandResult plain = collector_->Ctl({"user", "add", "oscar", "--role", "operator", "--no-qr"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("\u2588"), std::string::npos) << plain.out;
  Credentials op;
  op.password = Field(plain.out, "password:");
  const std::string op_uri = Field(plain.out, "otpauth:");
  const auto op_secret_at = op_uri.find("secret=") + 7;
  op.secret =
      web::Base32Decode(op_uri.substr(op_secret_at, op_uri.find('&', op_secret_at) - op_secret_at))
          .value_or("");

  auto [admin_token, admin_csrf] = Login("alice", admin);
  auto [op_token, op_csrf] = Login("oscar", op);
  // An operator may not see or change accounts.
  EXPECT_EQ(client_->Send(http::verb::get, "/api/users", op_token).status, 403);
  EXPECT_EQ(client_
                ->Send(http::verb::post, "/api/users", op_token, op_csrf,
                       R"({"name":"sneaky","role":"admin"})")
                .status,
            403);

  Reply added = client_->Send(http::verb::post, "/api/users", admin_token, admin_csrf,
                              R"({"name":"nadia","role":"viewer"})");
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(added.Header("Cache-Control"), "no-store");
  const std::string uri = JsonText(added.body, "otpauthUri");
  ASSERT_TRUE(uri.starts_with("otpauth://totp/Mamori:nadia?secret=")) << added.body;
  EXPECT_TRUE(JsonText(added.body, "otpauthQrSvg").starts_with("<svg ")) << added.body;
  Credentials nadia;
  nadia.password = JsonText(added.body, "password");
  const auto start = uri.find("secret=") + 7;
  nadia.secret = web::Base32Decode(uri.substr(start, uri.find('&', start) - start)).value_or("");
  auto [nadia_token, nadia_csrf] = Login("nadia", nadia);
  Reply me = client_->Send(http::verb::get, "/api/me", nadia_token);
  EXPECT_EQ(JsonString(me.body, "user"), "nadia");
  EXPECT_EQ(JsonString(me.body, "role"), "viewer");

  Reply list = client_->Send(http::verb::get, "/api/users", admin_token);
  ASSERT_EQ(list.status, 200) << list.body;
  for (const char* name : {"alice", "nadia", "oscar"}) {
    EXPECT_NE(list.body.find(std::string("\"name\":\"") + name + "\""), std::string::npos)
        << list.body;
  }
  EXPECT_EQ(list.body.find(nadia.password), std::string::npos);
  EXPECT_EQ(list.body.find("secret"), std::string::npos);

  // Promotion reaches the running session; disabling ends it.
  EXPECT_EQ(client_
                ->Send(http::verb::post, "/api/users/nadia/role", admin_token, admin_csrf,
                       R"({"role":"operator"})")
                .status,
            200);
  EXPECT_EQ(JsonString(client_->Send(http::verb::get, "/api/me", nadia_token).body, "role"),
            "operator");
  EXPECT_EQ(
      client_->Send(http::verb::post, "/api/users/nadia/disable", admin_token, admin_csrf).status,
      200);
  EXPECT_EQ(client_->Send(http::verb::get, "/api/me", nadia_token).status, 401);
  EXPECT_TRUE(collector_->WaitForLog("dashboard user 'nadia' (viewer) added by 'alice'",
                                     std::chrono::seconds(5)));
}

// Sessions of two seconds, so that one can run out during the test.
class ShortSessionDashboardTest : public DashboardTest {
 protected:
  ShortSessionDashboardTest() { web_extra_ = "  session_ttl: 2s\n"; }
};

TEST_F(ShortSessionDashboardTest, ExpiredSessionCookieIsRefused) {
  const Credentials c = AddUser("edna", "admin");
  auto [token, csrf] = Login("edna", c);
  EXPECT_EQ(client_->Send(http::verb::get, "/api/me", token).status, 200);
  // The browser drops the cookie after Max-Age; a client that keeps it
  // anyway is refused by the server.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(client_->Send(http::verb::get, "/api/me", token).status, 401);
  EXPECT_EQ(
      client_
          ->Send(http::verb::post, "/api/users", token, csrf, R"({"name":"late","role":"viewer"})")
          .status,
      401);
  EXPECT_EQ(client_->Send(http::verb::get, "/api/overview", token).status, 401);
}

class EnrollmentDashboardTest : public DashboardTest {
 protected:
  void SetUp() override {
    web_extra_ = "enrollment:\n  issuing_ca_cert_file: " + pki_.dir() +
                 "/ca.pem\n  issuing_ca_key_file: " + pki_.dir() + "/ca.key\n";
    DashboardTest::SetUp();
  }
};

TEST_F(EnrollmentDashboardTest, AdminCreatesAndRevokesTokensOthersOnlyRead) {
  const Credentials admin = AddUser("alice", "admin");
  const Credentials op = AddUser("oscar", "operator");
  const Credentials viewer = AddUser("victor", "viewer");
  auto [admin_token, admin_csrf] = Login("alice", admin);
  auto [op_token, op_csrf] = Login("oscar", op);
  auto [viewer_token, viewer_csrf] = Login("victor", viewer);

  EXPECT_EQ(client_
                ->Send(http::verb::post, "/api/enroll-tokens", op_token, op_csrf,
                       R"({"group":"osaka","uses":5})")
                .status,
            403);
  Reply created = client_->Send(http::verb::post, "/api/enroll-tokens", admin_token, admin_csrf,
                                R"({"group":"osaka/suita","uses":5,"note":"窓口 PC"})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.Header("Cache-Control"), "no-store");
  const std::string text = JsonText(created.body, "tokenText");
  ASSERT_TRUE(text.starts_with("mt_")) << created.body;
  const std::string id = text.substr(3, 8);

  Reply listed = client_->Send(http::verb::get, "/api/enroll-tokens", viewer_token);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_NE(listed.body.find(id), std::string::npos);
  EXPECT_NE(listed.body.find("窓口 PC"), std::string::npos);
  EXPECT_EQ(listed.body.find(text), std::string::npos);  // the secret is never listed

  EXPECT_EQ(
      client_
          ->Send(http::verb::post, "/api/enroll-tokens/" + id + "/revoke", op_token, op_csrf, "{}")
          .status,
      403);
  Reply revoked = client_->Send(http::verb::post, "/api/enroll-tokens/" + id + "/revoke",
                                admin_token, admin_csrf, "{}");
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(client_
                ->Send(http::verb::post, "/api/enroll-tokens/nosuchid/revoke", admin_token,
                       admin_csrf, "{}")
                .status,
            404);
  listed = client_->Send(http::verb::get, "/api/enroll-tokens", op_token);
  EXPECT_NE(listed.body.find("\"revoked\":true"), std::string::npos) << listed.body;
  Reply enrollments = client_->Send(http::verb::get, "/api/enrollments?limit=10", viewer_token);
  EXPECT_EQ(enrollments.status, 200) << enrollments.body;
  EXPECT_EQ(client_->Send(http::verb::get, "/api/enrollments?limit=0", viewer_token).status, 400);
}

}  // namespace
}  // namespace mamori::testing
