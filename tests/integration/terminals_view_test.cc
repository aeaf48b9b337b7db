// The terminals view at the collector: its in-memory compliance index
// against a recomputation from the store, with real agents, through
// policy changes and a restart; the list's filters over HTTPS and in
// mamorictl; the dashboard's connection limit; and --check-config on the
// dashboard's certificate files.

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
#include <future>
#include <map>
#include <thread>

#include "proto/wire/convert.h"
#include "server/accounts/totp.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::seconds;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::string WebSection(const TempDir& dir, const TlsPaths& server, const std::string& extra = "") {
  return "web:\n  listen: 127.0.0.1:0\n  port_file: " + dir.File("web.port") +
         "\n  cert_file: " + server.cert + "\n  key_file: " + server.key + "\n" + extra;
}

int WebPort(const TempDir& dir) {
  int port = 0;
  WaitUntil(
      [&] {
        std::ifstream in(dir.File("web.port"));
        return static_cast<bool>(in >> port) && port > 0;
      },
      seconds(10));
  return port;
}

// A TLS connection to the dashboard that verifies its certificate.
std::unique_ptr<TlsStream> OpenTls(net::io_context& ioc, ssl::context& ctx, int port) {
  auto stream = std::make_unique<TlsStream>(ioc, ctx);
  static char server_name[] = "localhost";
  SSL_ctrl(stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           server_name);
  stream->set_verify_callback(ssl::host_name_verification("localhost"));
  beast::get_lowest_layer(*stream).expires_after(seconds(10));
  beast::get_lowest_layer(*stream).connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  return stream;
}

ssl::context ClientContext(const std::string& ca_file) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca_file);
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

struct Reply {
  int status = 0;
  std::string body;
};

Reply Get(TlsStream& stream, const std::string& target, const std::string& cookie = "",
          const std::string& body = "") {
  http::request<http::string_body> req{body.empty() ? http::verb::get : http::verb::post, target,
                                       11};
  req.set(http::field::host, "localhost");
  if (!cookie.empty()) req.set(http::field::cookie, "mamori_session=" + cookie);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  beast::get_lowest_layer(stream).expires_after(seconds(10));
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(stream, buffer, res, ec);
  if (ec) return {};
  return {static_cast<int>(res.result_int()), res.body()};
}

std::string Field(const std::string& text, const std::string& label) {
  const auto pos = text.find(label);
  if (pos == std::string::npos) return "";
  const auto start = text.find_first_not_of(' ', pos + label.size());
  return text.substr(start, text.find('\n', start) - start);
}

// Logs in as a new viewer over HTTPS; returns the session cookie value.
std::string LoginViewer(CollectorProcess& collector, TlsStream& stream) {
  CommandResult r = collector.Ctl({"user", "add", "viewer1", "--role", "viewer"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string uri = Field(r.out, "otpauth:");
  const auto at = uri.find("secret=") + 7;
  const std::string secret = web::Base32Decode(uri.substr(at, uri.find('&', at) - at)).value_or("");
  const int64_t now =
      std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  http::request<http::string_body> req{http::verb::post, "/api/login", 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::content_type, "application/json");
  req.body() = "{\"name\":\"viewer1\",\"password\":\"" + Field(r.out, "password:") +
               "\",\"code\":\"" + web::TotpCode(secret, now) + "\"}";
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  EXPECT_EQ(res.result_int(), 200u) << res.body();
  const std::string cookie(res[http::field::set_cookie]);
  const auto eq = cookie.find('=');
  return cookie.substr(eq + 1, cookie.find(';') - eq - 1);
}

// ---------------------------------------------------------------------------

class TerminalsViewTest : public ::testing::Test {
 protected:
  void StartCollector(const std::string& extra_web = "") {
    collector_ =
        std::make_unique<CollectorProcess>(pki_, dir_, WebSection(dir_, pki_.Server(), extra_web));
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
  }

  // What the index says (ListTerminals) and what a per-terminal evaluation
  // of the stored snapshot says (GetTerminal), as "id status failing...".
  std::map<std::string, std::string> Listed() {
    auto admin = collector_->Admin(pki_.Admin());
    grpc::ClientContext ctx;
    v1::ListTerminalsRequest req;
    v1::ListTerminalsResponse resp;
    EXPECT_TRUE(admin->ListTerminals(WithDeadline(&ctx), req, &resp).ok());
    std::map<std::string, std::string> out;
    for (const auto& t : resp.terminals()) out[t.terminal_id()] = Verdict(t);
    return out;
  }
  std::map<std::string, std::string> Recomputed(const std::map<std::string, std::string>& ids) {
    auto admin = collector_->Admin(pki_.Admin());
    std::map<std::string, std::string> out;
    for (const auto& [id, unused] : ids) {
      grpc::ClientContext ctx;
      v1::GetTerminalRequest req;
      req.set_terminal_id(id);
      v1::TerminalDetail detail;
      EXPECT_TRUE(admin->GetTerminal(WithDeadline(&ctx), req, &detail).ok());
      out[id] = Verdict(detail.summary());
    }
    return out;
  }
  static std::string Verdict(const v1::TerminalSummary& t) {
    std::string s = v1::ComplianceStatus_Name(t.status()) + " assigned " +
                    std::to_string(t.assigned_policy_version());
    for (const auto& c : t.failing_checks()) s += " " + c;
    return s;
  }
  // The two agree; agents reporting between the two reads can make one
  // comparison disagree, never a settled collector.
  ::testing::AssertionResult Agree(std::size_t terminals) {
    std::map<std::string, std::string> listed, recomputed;
    const bool same = WaitUntil(
        [&] {
          listed = Listed();
          recomputed = Recomputed(listed);
          return listed.size() == terminals && listed == recomputed;
        },
        seconds(20));
    if (same) return ::testing::AssertionSuccess();
    auto failure = ::testing::AssertionFailure() << "index vs recomputation:\n";
    for (const auto& [id, v] : listed)
      failure << id << ": " << v << " | " << recomputed[id] << "\n";
    return failure;
  }
  std::string VerdictOf(const std::string& id) {
    const auto listed = Listed();
    const auto it = listed.find(id);
    return it == listed.end() ? "" : it->second;
  }

  TempDir dir_;
  TestPki pki_;
  std::unique_ptr<CollectorProcess> collector_;
};

TEST_F(TerminalsViewTest, IndexAgreesWithRecomputationAcrossReportsPoliciesAndRestart) {
  StartCollector();
  AgentProcess normal(pki_, dir_, *collector_, "t-normal", "osaka/suita");
  AgentProcess audit(pki_, dir_, *collector_, "t-audit", "osaka/suita/hoken",
                     "enforcement:\n  mode: audit_only\n");
  AgentProcess kyoto(pki_, dir_, *collector_, "t-kyoto", "kyoto");
  normal.Plug("kbd", KeyboardYaml());
  audit.Plug("stick", StickYaml("AUDIT1"));
  kyoto.Plug("stick", StickYaml("KYOTO1"));
  normal.Start();
  audit.Start();
  kyoto.Start();
  ASSERT_TRUE(WaitUntil([&] { return Listed().size() == 3; }, seconds(30))) << collector_->Log();
  ASSERT_TRUE(Agree(3));
  // The audit-only agent leaves the stick usable: two checks fail.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return VerdictOf("t-audit").find("enforcement_active no_unapproved_storage") !=
               std::string::npos;
      },
      seconds(20)))
      << VerdictOf("t-audit");

  // A policy registering the Kyoto stick, applied while its agent is
  // frozen: the assigned version changes at once and the terminal is behind
  // until the agent picks the policy up and allows the stick.
  kyoto.process().Signal(SIGSTOP);
  const std::string policy = dir_.Write(
      "kyoto.yaml",
      "name: kyoto\nregistered_media:\n  - serial: \"KYOTO1\"\n    vid_pid: \"0781:5581\"\n"
      "rules:\n  - name: reg\n    match: {registered_media: true}\n    action: allow\n");
  CommandResult applied = collector_->Ctl({"policy", "apply", policy, "--group", "kyoto"});
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  EXPECT_TRUE(Agree(3));
  EXPECT_NE(VerdictOf("t-kyoto").find("assigned 1 policy_current"), std::string::npos)
      << VerdictOf("t-kyoto");
  kyoto.process().Signal(SIGCONT);
  ASSERT_TRUE(
      WaitUntil([&] { return VerdictOf("t-kyoto") == "COMPLIANCE_STATUS_COMPLIANT assigned 1"; },
                seconds(30)))
      << VerdictOf("t-kyoto") << kyoto.Log();
  EXPECT_TRUE(Agree(3));

  // New reports: a stick on the normal terminal (blocked), another one on
  // the audit-only terminal.
  normal.Plug("stick", StickYaml("NORMAL1"));
  audit.Plug("stick2", StickYaml("AUDIT2", "0951", "1666"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto admin = collector_->Admin(pki_.Admin());
        grpc::ClientContext ctx;
        v1::GetTerminalRequest req;
        req.set_terminal_id("t-audit");
        v1::TerminalDetail d;
        return admin->GetTerminal(WithDeadline(&ctx), req, &d).ok() && d.devices_size() == 2;
      },
      seconds(30)));
  EXPECT_TRUE(Agree(3));

  // Restarted, the collector rebuilds the index from the store before any
  // agent reports again.
  collector_->process().Signal(SIGTERM);
  ASSERT_TRUE(collector_->process().Wait(seconds(10)).has_value());
  normal.process().Signal(SIGSTOP);
  audit.process().Signal(SIGSTOP);
  kyoto.process().Signal(SIGSTOP);
  ASSERT_TRUE(collector_->Start()) << collector_->Log();
  EXPECT_TRUE(collector_->WaitForLog("compliance index: 3 terminal(s) loaded", seconds(5)))
      << collector_->Log();
  EXPECT_TRUE(Agree(3));
  EXPECT_NE(VerdictOf("t-audit").find("enforcement_active"), std::string::npos);
  for (AgentProcess* a : {&normal, &audit, &kyoto}) a->process().Signal(SIGCONT);
}

TEST_F(TerminalsViewTest, FiltersSearchAndPagingOverHttpsAndInMamorictl) {
  StartCollector();
  // 30 terminals reporting over the agent API: every third audit-only.
  for (int i = 0; i < 30; ++i) {
    const std::string id = "t-" + std::to_string(100 + i);
    const TlsPaths creds = pki_.IssueTerminal(id, i % 2 == 0 ? "osaka/suita" : "kyoto");
    v1::StateReport r;
    r.set_hostname(i == 7 ? "Suita-Hoken-PC07" : "pc-" + std::to_string(i));
    r.set_report_interval_seconds(60);
    SetMs(std::chrono::duration_cast<milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count(),
          r.mutable_agent_time());
    r.mutable_enforcement()->set_mode(i % 3 == 0 ? v1::ENFORCEMENT_MODE_AUDIT_ONLY
                                                 : v1::ENFORCEMENT_MODE_ENFORCE);
    r.mutable_enforcement()->set_healthy(true);
    auto stub = collector_->Agent(creds);
    grpc::ClientContext ctx;
    v1::StateAck ack;
    ASSERT_TRUE(stub->ReportState(WithDeadline(&ctx), r, &ack).ok());
  }
  net::io_context ioc;
  ssl::context ctx = ClientContext(pki_.ca_file());
  auto stream = OpenTls(ioc, ctx, WebPort(dir_));
  stream->handshake(ssl::stream_base::client);
  const std::string cookie = LoginViewer(*collector_, *stream);

  Reply all = Get(*stream, "/api/terminals?size=7&page=4", cookie);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_NE(all.body.find("\"total\":30"), std::string::npos) << all.body;
  EXPECT_NE(all.body.find("\"offset\":28"), std::string::npos) << all.body;
  EXPECT_NE(all.body.find("\"terminalId\":\"t-128\""), std::string::npos) << all.body;
  EXPECT_NE(all.body.find("\"terminalId\":\"t-129\""), std::string::npos) << all.body;
  EXPECT_EQ(all.body.find("\"terminalId\":\"t-127\""), std::string::npos) << all.body;

  // Audit-only in osaka: even multiples of 3 below 30, i.e. 0, 6, ..., 24.
  Reply audit = Get(
      *stream, "/api/terminals?group=osaka&check=enforcement_active&status=non_compliant", cookie);
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_NE(audit.body.find("\"total\":5"), std::string::npos) << audit.body;
  Reply search = Get(*stream, "/api/terminals?q=SUITA-HOKEN", cookie);
  EXPECT_NE(search.body.find("\"total\":1"), std::string::npos) << search.body;
  EXPECT_NE(search.body.find("\"terminalId\":\"t-107\""), std::string::npos) << search.body;
  EXPECT_EQ(Get(*stream, "/api/terminals?check=bogus", cookie).status, 400);
  EXPECT_EQ(Get(*stream, "/api/terminals?q=" + std::string(65, 'x'), cookie).status, 400);
  EXPECT_EQ(Get(*stream, "/api/terminals?size=501", cookie).status, 400);

  CommandResult cli = collector_->Ctl(
      {"terminals", "--group", "kyoto", "--check", "enforcement_active", "--search", "PC-"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  // Odd multiples of 3: 3, 9, 15, 21, 27.
  for (const char* id : {"t-103", "t-109", "t-115", "t-121", "t-127"}) {
    EXPECT_NE(cli.out.find(id), std::string::npos) << cli.out;
  }
  EXPECT_EQ(cli.out.find("t-106"), std::string::npos) << cli.out;
  CommandResult bad = collector_->Ctl({"terminals", "--check", "bogus"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--check must be"), std::string::npos) << bad.err;
}

TEST_F(TerminalsViewTest, ConnectionsBeyondTheLimitWaitUntilOneCloses) {
  StartCollector("  max_connections: 2\n");
  const int port = WebPort(dir_);
  net::io_context ioc;
  ssl::context ctx = ClientContext(pki_.ca_file());
  auto first = OpenTls(ioc, ctx, port);
  first->handshake(ssl::stream_base::client);
  auto second = OpenTls(ioc, ctx, port);
  second->handshake(ssl::stream_base::client);
  EXPECT_EQ(Get(*second, "/").status, 200);

  // The third connects (the kernel queues it) but is not served: its
  // handshake waits.
  net::io_context third_ioc;
  auto third = OpenTls(third_ioc, ctx, port);
  beast::get_lowest_layer(*third).expires_after(seconds(20));
  std::future<beast::error_code> handshake = std::async(std::launch::async, [&] {
    beast::error_code ec;
    third->handshake(ssl::stream_base::client, ec);
    return ec;
  });
  EXPECT_EQ(handshake.wait_for(milliseconds(700)), std::future_status::timeout);
  EXPECT_TRUE(collector_->WaitForLog("dashboard connection limit reached", seconds(5)))
      << collector_->Log();

  // One closes: the waiting connection is served.
  beast::error_code ignored;
  beast::get_lowest_layer(*first).socket().shutdown(tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(*first).close();
  ASSERT_EQ(handshake.wait_for(seconds(15)), std::future_status::ready);
  EXPECT_FALSE(handshake.get());
  EXPECT_EQ(Get(*third, "/").status, 200);
  // Logged once for the burst.
  const std::string log = collector_->Log();
  const auto at = log.find("dashboard connection limit reached");
  EXPECT_EQ(log.find("dashboard connection limit reached", at + 1), std::string::npos) << log;
}

class CheckConfigTest : public ::testing::Test {
 protected:
  CommandResult Check(const std::string& web_yaml) {
    CollectorProcess collector(pki_, dir_, web_yaml);
    return RunCommand(
        {MAMORI_COLLECTOR_BIN, "--config", collector.config_path(), "--check-config"});
  }
  std::string Web(const std::string& cert, const std::string& key) {
    return "web:\n  listen: 127.0.0.1:0\n  cert_file: " + cert + "\n  key_file: " + key + "\n";
  }

  TempDir dir_;
  TestPki pki_;
};

TEST_F(CheckConfigTest, WebCertificateAndKeyAreChecked) {
  const TlsPaths server = pki_.Server();
  CommandResult ok = Check(Web(server.cert, server.key));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("configuration OK"), std::string::npos);

  const std::string missing = dir_.File("no-such-web.pem");
  CommandResult gone = Check(Web(missing, server.key));
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("web.cert_file " + missing + ": cannot open"), std::string::npos)
      << gone.err;

  const std::string garbage = dir_.Write("garbage.pem", "not a certificate\n");
  CommandResult bad = Check(Web(garbage, server.key));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("web.cert_file " + garbage + ": not a PEM certificate"), std::string::npos)
      << bad.err;

  const TlsPaths other = pki_.Admin();
  CommandResult mismatch = Check(Web(server.cert, other.key));
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_NE(mismatch.err.find("web.key_file " + other.key +
                              ": does not match the certificate in web.cert_file " + server.cert),
            std::string::npos)
      << mismatch.err;

  CommandResult bad_key = Check(Web(server.cert, garbage));
  EXPECT_EQ(bad_key.exit_code, 1);
  EXPECT_NE(bad_key.err.find("web.key_file " + garbage), std::string::npos) << bad_key.err;
}

}  // namespace
}  // namespace mamori::testing
