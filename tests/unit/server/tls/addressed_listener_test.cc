// The listener against an in-process gRPC server over real TLS on loopback:
// slots are reused once their handshake is verified, each refusal names its
// own address, and when every slot is busy the address goes to the accept
// line instead of being guessed.

#include "server/tls/addressed_listener.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "common/base/logging.h"
#include "common/crypto/credentials.h"
#include "server/tls/server_transport.h"
#include "tests/support/child_process.h"
#include "tests/support/test_pki.h"

namespace mamori {
namespace {

using ::testing::HasSubstr;
using testing::TestPki;
using testing::TlsPaths;

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Collects log lines; read while gRPC's threads write.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    text_.append(msg.payload.data(), msg.payload.size());
    text_ += '\n';
  }
  void flush_() override {}

 private:
  std::string text_;
};

class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<CaptureSink>()) {
    EXPECT_TRUE(SetupLoggingSinks("info", {sink_}).ok());
  }
  ~LogCapture() { (void)SetupLoggingSinks("off", {}); }
  std::string text() { return sink_->text(); }
  bool WaitFor(const std::string& needle) {
    return testing::WaitUntil([&] { return text().find(needle) != std::string::npos; },
                              std::chrono::seconds(10));
  }
  // The whole line holding `needle`, or "".
  std::string LineWith(const std::string& needle) {
    const std::string t = text();
    const auto at = t.find(needle);
    if (at == std::string::npos) return "";
    const auto start = t.rfind('\n', at);
    const auto begin = start == std::string::npos ? 0 : start + 1;
    return t.substr(begin, t.find('\n', at) - begin);
  }

 private:
  std::shared_ptr<CaptureSink> sink_;
};

// A client that connects and says nothing: it holds a slot.
int Stall(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 0);
  return fd;
}

class AddressedListenerTest : public ::testing::Test {
 protected:
  void StartServer(int slots) {
    const TlsPaths server = pki_.Server();
    Result<TlsMaterial> tls = LoadTlsMaterial({server.ca, server.cert, server.key}, clock_.NowMs());
    ASSERT_TRUE(tls.ok()) << tls.error().message;
    tls_ = *tls;
    AddressedListener::Options options;
    options.slots = slots;
    options.handshake_timeout = std::chrono::milliseconds(1'000);
    auto listener = AddressedListener::Create(
        "127.0.0.1:0", builder_,
        [this](HandshakePeerSource* peers) {
          return MakeServerCredentials(tls_, &clock_, nullptr, peers);
        },
        options);
    ASSERT_TRUE(listener.ok()) << listener.error().message;
    listener_ = std::move(listener).value();
    // A server needs a service; unknown methods are all these tests call.
    builder_.RegisterCallbackGenericService(&generic_);
    server_ = builder_.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    listener_->Start();
  }

  void TearDown() override {
    if (listener_) listener_->Stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    listener_.reset();
  }

  // Opens a TLS connection with `client` and reports whether it got through.
  bool Connect(const TlsPaths& client) {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = testing::ReadWholeFile(client.ca);
    opts.pem_private_key = testing::ReadWholeFile(client.key);
    opts.pem_cert_chain = testing::ReadWholeFile(client.cert);
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(std::string(TestPki::kServerName));
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(listener_->port()),
                                             grpc::SslCredentials(opts), args);
    return channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(3));
  }

  TestPki pki_;
  SystemClock clock_;
  TlsMaterial tls_;
  grpc::CallbackGenericService generic_;
  grpc::ServerBuilder builder_;
  std::unique_ptr<AddressedListener> listener_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(AddressedListenerTest, ReusesASlotOnceItsHandshakeWasVerified) {
  LogCapture log;
  StartServer(1);
  ASSERT_GT(listener_->port(), 0);
  // More handshakes than slots, one after another, all on the one slot.
  EXPECT_TRUE(Connect(pki_.IssueTerminal("t-good", "osaka")));
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(Connect(pki_.IssueTerminal("t-bad" + std::to_string(i))));  // no group
    EXPECT_TRUE(log.WaitFor("CN=t-bad" + std::to_string(i) + " rejected")) << log.text();
  }
  EXPECT_TRUE(Connect(pki_.IssueTerminal("t-good2", "osaka")));
  const std::string text = log.text();
  EXPECT_EQ(text.find("unknown address"), std::string::npos) << text;
  EXPECT_EQ(text.find("slots busy"), std::string::npos) << text;
  EXPECT_THAT(text, HasSubstr("connection from ipv4:127.0.0.1:"));
}

TEST_F(AddressedListenerTest, WhenEverySlotIsBusyTheAcceptLineCarriesTheAddress) {
  LogCapture log;
  StartServer(1);
  const int staller = Stall(listener_->port());
  // Give the listener a moment to hand the staller to the only slot.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(Connect(pki_.IssueTerminal("t-overflow")));
  EXPECT_TRUE(log.WaitFor("all 1 handshake slots busy")) << log.text();
  EXPECT_TRUE(
      log.WaitFor("connection from unknown address refused: client certificate "
                  "CN=t-overflow rejected"))
      << log.text();

  // The staller's slot comes back after the handshake deadline, with a line
  // that names it, and the next refusal has its address again.
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  ::getsockname(staller, reinterpret_cast<sockaddr*>(&local), &len);
  EXPECT_TRUE(
      log.WaitFor("connection from ipv4:127.0.0.1:" + std::to_string(ntohs(local.sin_port)) +
                  " refused: TLS handshake failed or was abandoned"))
      << log.text();
  ::close(staller);
  EXPECT_FALSE(Connect(pki_.IssueTerminal("t-after")));
  ASSERT_TRUE(log.WaitFor("CN=t-after rejected")) << log.text();
  EXPECT_THAT(log.LineWith("CN=t-after rejected"),
              ::testing::StartsWith("connection from ipv4:127.0.0.1:"));
}

TEST_F(AddressedListenerTest, RefusesAMalformedListenAddress) {
  grpc::ServerBuilder builder;
  auto creds = [](HandshakePeerSource*) { return grpc::InsecureServerCredentials(); };
  EXPECT_THAT(AddressedListener::Create("nocolon", builder, creds, {}).error().message,
              HasSubstr("expected host:port"));
  EXPECT_THAT(AddressedListener::Create("[::1", builder, creds, {}).error().message,
              HasSubstr("[v6]:port"));
}

TEST(FormatPeerAddressTest, WritesAddressesTheWayGrpcDoes) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(5000);
  ::inet_pton(AF_INET, "127.0.0.2", &v4.sin_addr);
  EXPECT_EQ(FormatPeerAddress(&v4, sizeof(v4)), "ipv4:127.0.0.2:5000");
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(6000);
  ::inet_pton(AF_INET6, "::1", &v6.sin6_addr);
  EXPECT_EQ(FormatPeerAddress(&v6, sizeof(v6)), "ipv6:[::1]:6000");
  ::inet_pton(AF_INET6, "::ffff:10.0.0.1", &v6.sin6_addr);
  EXPECT_EQ(FormatPeerAddress(&v6, sizeof(v6)), "ipv4:10.0.0.1:6000");
}

}  // namespace
}  // namespace mamori
