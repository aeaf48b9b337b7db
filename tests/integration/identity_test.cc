// Client identity at the handshake, against a real collector process over
// real mutual TLS on loopback: chains through the issuing CA, the exact
// identity rule, and refusal lines that name the peer's address.
//
// Malformed certificates are presented by a plain OpenSSL client rather
// than gRPC: gRPC's client refuses to load some of them (weak keys and
// digests), and only a plain socket can pick its source address
// (127.0.0.2, 127.0.0.3) to prove each refusal names the right peer.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "proto/wire/convert.h"
#include "tests/integration/harness.h"
#include "tests/support/custom_cert.h"

namespace mamori::testing {
namespace {

using ::testing::HasSubstr;

template <typename T, void (*kFree)(T*)>
struct Free {
  void operator()(T* p) const { kFree(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, Free<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Free<SSL, SSL_free>>;

struct RawResult {
  std::string local_address;      // as the collector writes peers: "ipv4:127.0.0.2:40000"
  bool application_data = false;  // the server spoke HTTP/2 after the handshake
};

// One TLS handshake from `source_ip` presenting `cert_pem` (leaf, then any
// intermediates) and `key_pem`, then a read to learn whether the server
// went on or closed the connection.
RawResult RawHandshake(int port, const std::string& source_ip, const std::string& cert_pem,
                       const std::string& key_pem) {
  // The collector closes refused connections; writing to one must fail,
  // not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  RawResult result;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    ::close(fd);
    ADD_FAILURE() << "cannot connect from " << source_ip;
    return result;
  }
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  result.local_address = "ipv4:" + source_ip + ":" + std::to_string(ntohs(local.sin_port));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  // Level 0: the point is to present what a careful client would not.
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  SSL_CTX_use_certificate(ctx.get(), leaf);
  X509_free(leaf);
  while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    SSL_CTX_add_extra_chain_cert(ctx.get(), extra);  // takes ownership
  }
  BIO_free(bio);
  bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  SSL_CTX_use_PrivateKey(ctx.get(), key);
  EVP_PKEY_free(key);
  BIO_free(bio);
  ERR_clear_error();

  SslPtr ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  if (SSL_connect(ssl.get()) == 1) {
    // TLS 1.3 finishes on the client before the server has judged the
    // client's certificate: its verdict is the next thing on the wire.
    const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    SSL_write(ssl.get(), preface, sizeof(preface) - 1);
    char buf[64];
    result.application_data = SSL_read(ssl.get(), buf, sizeof(buf)) > 0;
  }
  ERR_clear_error();
  ::close(fd);
  return result;
}

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The collector's own certificate comes from the issuing CA too, so
    // every client below also proves it verifies a server through one.
    IssueRequest server;
    server.kind = CertKind::kServer;
    server.id = std::string(TestPki::kServerId);
    server.dns_names = {std::string(TestPki::kServerName)};
    server.ip_addresses = {"127.0.0.1"};
    pki_.IssueViaIssuingCa("server", server);
    collector_ = std::make_unique<CollectorProcess>(pki_, dir_);
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
  }

  static v1::StateReport MinimalReport() {
    v1::StateReport r;
    r.set_hostname("pc-01");
    r.set_agent_version("test");
    r.set_report_interval_seconds(60);
    r.mutable_enforcement()->set_mode(v1::ENFORCEMENT_MODE_ENFORCE);
    r.mutable_enforcement()->set_healthy(true);
    SetMs(std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count(),
          r.mutable_agent_time());
    return r;
  }

  grpc::Status Report(const TlsPaths& creds) {
    auto stub = collector_->Agent(creds);
    grpc::ClientContext ctx;
    v1::StateAck ack;
    return stub->ReportState(WithDeadline(&ctx, 5), MinimalReport(), &ack);
  }

  // The collector's log line refusing `cn`, waited for.
  std::string RefusalLine(const std::string& cn) {
    const std::string needle = "client certificate CN=" + cn + " rejected";
    std::string line;
    WaitUntil(
        [&] {
          const std::string log = collector_->Log();
          const auto at = log.find(needle);
          if (at == std::string::npos) return false;
          const auto start = log.rfind('\n', at);
          line = log.substr(start == std::string::npos ? 0 : start + 1,
                            log.find('\n', at) - (start == std::string::npos ? 0 : start + 1));
          return true;
        },
        std::chrono::seconds(5));
    return line;
  }

  TempDir dir_;
  TestPki pki_;
  std::unique_ptr<CollectorProcess> collector_;
};

TEST_F(IdentityTest, CertificatesFromTheIssuingCaAreAccepted) {
  const TlsPaths terminal =
      pki_.IssueViaIssuingCa("t-chain", TestPki::TerminalRequest("t-chain", "osaka"));
  const grpc::Status s = Report(terminal);
  EXPECT_TRUE(s.ok()) << s.error_message() << "\n" << collector_->Log();

  IssueRequest admin;
  admin.kind = CertKind::kAdmin;
  admin.id = "chain-admin";
  auto stub = collector_->Admin(pki_.IssueViaIssuingCa("chain-admin", admin));
  grpc::ClientContext ctx;
  v1::ListTerminalsResponse out;
  const grpc::Status listed = stub->ListTerminals(WithDeadline(&ctx, 5), {}, &out);
  EXPECT_TRUE(listed.ok()) << listed.error_message() << "\n" << collector_->Log();

  // A real agent, its own certificate from the issuing CA, verifies the
  // collector's chain and is accepted in turn.
  AgentProcess agent(pki_, dir_, *collector_, "t-agent", "osaka");
  pki_.IssueViaIssuingCa("terminal-t-agent", TestPki::TerminalRequest("t-agent", "osaka"));
  agent.Start();
  EXPECT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext get_ctx;
        v1::GetTerminalRequest req;
        req.set_terminal_id("t-agent");
        v1::TerminalDetail detail;
        return stub->GetTerminal(WithDeadline(&get_ctx, 2), req, &detail).ok();
      },
      std::chrono::seconds(20)))
      << agent.Log() << collector_->Log();

  // mamorictl verifies the collector's chain the same way.
  const CommandResult ctl = collector_->Ctl({"terminals"});
  EXPECT_EQ(ctl.exit_code, 0) << ctl.out << ctl.err;
}

TEST_F(IdentityTest, ForeignIssuingCaIsRefused) {
  // Same issuing CA name as ours, different root: only the chain counts.
  const TlsPaths foreign =
      pki_.IssueViaForeignIssuingCa("t-stranger", TestPki::TerminalRequest("t-stranger", "osaka"));
  EXPECT_FALSE(Report(foreign).ok());
  const std::string line = RefusalLine("t-stranger");
  EXPECT_THAT(line, HasSubstr("connection from ipv4:127.0.0.1:")) << collector_->Log();
  EXPECT_THAT(line, HasSubstr("not issued by this CA"));
}

TEST_F(IdentityTest, ChainWithoutTheIssuingCaIsRefusedWithTheReason) {
  const TlsPaths full =
      pki_.IssueViaIssuingCa("t-alone", TestPki::TerminalRequest("t-alone", "osaka"));
  const std::string chain = ReadWholeFile(full.cert);
  const std::string end = "-----END CERTIFICATE-----\n";
  const TlsPaths alone{
      full.ca, dir_.Write("t-alone-leaf.pem", chain.substr(0, chain.find(end) + end.size())),
      full.key};
  EXPECT_FALSE(Report(alone).ok());
  EXPECT_THAT(RefusalLine("t-alone"), HasSubstr("chain omits the issuing CA certificate"))
      << collector_->Log();
}

TEST_F(IdentityTest, EveryMalformedIdentityIsRefusedWithItsReasonAndAddress) {
  struct Case {
    std::string name;
    CertSpec spec;
    std::string reason;
  };
  auto spec = [](const std::string& cn) {
    CertSpec s;
    s.common_name = cn;
    s.uris = {"mamori://terminal/" + cn, "mamori://group/osaka"};
    return s;
  };
  std::vector<Case> cases;
  {
    Case c{"m-nouri", spec("m-nouri"), "no mamori:// identity URI"};
    c.spec.uris = {"mamori://group/osaka"};
    cases.push_back(c);
  }
  {
    Case c{"m-twouri", spec("m-twouri"), "more than one mamori:// identity URI"};
    c.spec.uris.push_back("mamori://admin/m-twouri");
    cases.push_back(c);
  }
  {
    Case c{"m-nogroup", spec("m-nogroup"), "has no mamori://group/ URI"};
    c.spec.uris = {"mamori://terminal/m-nogroup"};
    cases.push_back(c);
  }
  {
    Case c{"m-twogroups", spec("m-twogroups"), "more than one mamori://group/"};
    c.spec.uris.push_back("mamori://group/kyoto");
    cases.push_back(c);
  }
  {
    Case c{"m-admingroup", spec("m-admingroup"), "admin certificate carries a group"};
    c.spec.uris = {"mamori://admin/m-admingroup", "mamori://group/osaka"};
    cases.push_back(c);
  }
  {
    Case c{"m-badid", spec("m-badid"), "terminal id \"bad id\" is not valid"};
    c.spec.uris = {"mamori://terminal/bad id", "mamori://group/osaka"};
    cases.push_back(c);
  }
  {
    Case c{"m-badgroup", spec("m-badgroup"), "is not a valid group"};
    c.spec.uris = {"mamori://terminal/m-badgroup", "mamori://group/Osaka"};
    cases.push_back(c);
  }
  {
    Case c{"m-rsa1024", spec("m-rsa1024"), "RSA key of 1024 bits"};
    c.spec.key_type = "RSA";
    c.spec.rsa_bits = 1024;
    cases.push_back(c);
  }
  {
    Case c{"m-sha1", spec("m-sha1"), "signed with SHA1"};
    c.spec.digest = "SHA1";
    cases.push_back(c);
  }
  {
    Case c{"m-ca", spec("m-ca"), "CA certificate (basicConstraints CA:TRUE)"};
    c.spec.is_ca = true;
    cases.push_back(c);
  }
  {
    Case c{"m-noeku", spec("m-noeku"), "no extendedKeyUsage clientAuth"};
    c.spec.eku.clear();
    cases.push_back(c);
  }
  {
    Case c{"m-servereku", spec("m-servereku"), "TLS client"};
    c.spec.eku = {"serverAuth"};
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const KeyAndCert cert = MakeCustomCert(c.spec, &pki_.ca());
    const RawResult r = RawHandshake(collector_->port(), "127.0.0.1", cert.cert_pem, cert.key_pem);
    EXPECT_FALSE(r.application_data);
    const std::string line = RefusalLine(c.name);
    EXPECT_THAT(line, HasSubstr("connection from " + r.local_address + " refused"))
        << collector_->Log();
    EXPECT_THAT(line, HasSubstr(c.reason));
    EXPECT_THAT(line, HasSubstr("sha256 " + InspectCertificate(cert.cert_pem)->sha256_fingerprint));
  }
  // A key the TLS stack itself cannot sign with (TLS 1.3 has no signature
  // scheme for secp256k1): the client leaves its certificate out.
  {
    CertSpec k1 = spec("m-k1");
    k1.curve = "secp256k1";
    const KeyAndCert cert = MakeCustomCert(k1, &pki_.ca());
    const RawResult r = RawHandshake(collector_->port(), "127.0.0.1", cert.cert_pem, cert.key_pem);
    EXPECT_FALSE(r.application_data);
    EXPECT_TRUE(collector_->WaitForLog(
        "connection from " + r.local_address + " refused: no client certificate presented",
        std::chrono::seconds(5)))
        << collector_->Log();
  }
  // The well-formed control case goes through on the same path.
  const KeyAndCert good = MakeCustomCert(spec("m-good"), &pki_.ca());
  EXPECT_TRUE(
      RawHandshake(collector_->port(), "127.0.0.1", good.cert_pem, good.key_pem).application_data)
      << collector_->Log();
}

TEST_F(IdentityTest, HandshakesThatFailBeforeVerificationAreLoggedWithTheAddress) {
  // Not TLS at all: the TLS stack gives up before any certificate is seen,
  // and gRPC logs that without an address; the listener has it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(collector_->port()));
  ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)), 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 0);
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  const std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_GT(::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL), 0);
  char buf[256];
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (::recv(fd, buf, sizeof(buf), 0) > 0) {
  }
  ::close(fd);
  EXPECT_TRUE(collector_->WaitForLog(
      "connection from ipv4:127.0.0.2:" + std::to_string(ntohs(local.sin_port)) +
          " refused: TLS handshake failed or was abandoned",
      std::chrono::seconds(10)))
      << collector_->Log();
}

TEST_F(IdentityTest, ConcurrentRefusalsEachNameTheirOwnAddress) {
  // Several clients from three source addresses at once, each with its own
  // refused certificate; every refusal line must pair the certificate with
  // the exact address and port it came from.
  constexpr int kPerSource = 8;
  const std::vector<std::string> sources = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};
  struct Client {
    std::string cn;
    std::string source;
    KeyAndCert cert;
    RawResult result;
  };
  std::vector<Client> clients;
  for (const std::string& source : sources) {
    for (int i = 0; i < kPerSource; ++i) {
      Client c;
      c.cn = "c-" + source.substr(source.rfind('.') + 1) + "-" + std::to_string(i);
      c.source = source;
      CertSpec spec;
      spec.common_name = c.cn;
      spec.uris = {"mamori://terminal/" + c.cn};  // no group: refused
      c.cert = MakeCustomCert(spec, &pki_.ca());
      clients.push_back(std::move(c));
    }
  }
  {
    std::vector<std::jthread> threads;
    for (Client& c : clients) {
      threads.emplace_back([&c, port = collector_->port()] {
        c.result = RawHandshake(port, c.source, c.cert.cert_pem, c.cert.key_pem);
      });
    }
  }
  for (const Client& c : clients) {
    SCOPED_TRACE(c.cn);
    EXPECT_FALSE(c.result.application_data);
    const std::string line = RefusalLine(c.cn);
    EXPECT_THAT(line, HasSubstr("connection from " + c.result.local_address + " refused"))
        << collector_->Log();
  }
}

}  // namespace
}  // namespace mamori::testing
