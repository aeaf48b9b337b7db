#include "agent/transport/grpc_collector_client.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/crypto/pki.h"
#include "mamori/v1/agent.grpc.pb.h"
#include "proto/wire/convert.h"
#include "tests/mocks/outbox_events.h"

namespace mamori {
namespace {

using namespace std::chrono_literals;

// A collector stand-in: records what arrives and answers as scripted.
class ScriptedAgentService final : public v1::AgentService::Service {
 public:
  grpc::Status ReportState(grpc::ServerContext* /*ctx*/, const v1::StateReport* req,
                           v1::StateAck* resp) override {
    std::lock_guard lock(mu_);
    if (deny_) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "terminal id mismatch");
    last_state_ = *req;
    resp->set_assigned_policy_version(9);
    SetMs(1'760'000'000'123, resp->mutable_collector_time());
    return grpc::Status::OK;
  }

  grpc::Status ReportEvents(grpc::ServerContext* /*ctx*/, const v1::EventBatch* req,
                            v1::EventAck* resp) override {
    std::lock_guard lock(mu_);
    events_ += req->events_size();
    if (req->events_size() > 0) {
      resp->set_acked_through_seq(req->events(req->events_size() - 1).seq());
    }
    return grpc::Status::OK;
  }

  grpc::Status WatchPolicy(grpc::ServerContext* ctx, const v1::WatchPolicyRequest* req,
                           grpc::ServerWriter<v1::PolicyBundle>* writer) override {
    v1::PolicyBundle b;
    b.set_version(req->current_version() + 1);
    b.set_group("osaka/suita");
    b.set_policy_yaml("name: p\n");
    writer->Write(b);
    // Holds the stream open until the client goes away.
    std::unique_lock lock(mu_);
    while (!ctx->IsCancelled()) cv_.wait_for(lock, 20ms);
    return grpc::Status::CANCELLED;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool deny_ = false;
  v1::StateReport last_state_;
  int events_ = 0;
};

class GrpcCollectorClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CreateCa("Test CA", 30);
    ASSERT_TRUE(ca.ok()) << ca.error().message;
    ca_ = *ca;
    IssueRequest server_req;
    server_req.kind = CertKind::kServer;
    server_req.id = "collector";
    server_req.dns_names = {"collector.test"};
    auto server = IssueCertificate(ca_, server_req);
    ASSERT_TRUE(server.ok()) << server.error().message;
    IssueRequest agent_req;
    agent_req.kind = CertKind::kTerminal;
    agent_req.id = "t-001";
    auto agent = IssueCertificate(ca_, agent_req);
    ASSERT_TRUE(agent.ok()) << agent.error().message;
    agent_ = *agent;

    grpc::SslServerCredentialsOptions ssl(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = ca_.cert_pem;
    ssl.pem_key_cert_pairs.push_back({server->key_pem, server->cert_pem});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }

  GrpcCollectorOptions Options() const {
    GrpcCollectorOptions o;
    o.address = "127.0.0.1:" + std::to_string(port_);
    o.server_name = "collector.test";
    o.ca_pem = ca_.cert_pem;
    o.cert_pem = agent_.cert_pem;
    o.key_pem = agent_.key_pem;
    o.call_timeout = 5s;
    return o;
  }

  KeyAndCert ca_;
  KeyAndCert agent_;
  ScriptedAgentService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(GrpcCollectorClientTest, ReportsStateOverMutualTls) {
  GrpcCollectorClient client(Options());
  TerminalState s;
  s.hostname = "pc-hoken-01";
  s.applied_policy_version = 4;
  s.enforcement.mode = EnforcementMode::kEnforce;
  s.enforcement.backend = "simulated";
  auto ack = client.ReportState(s);
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  EXPECT_EQ(ack->assigned_policy_version, 9u);
  EXPECT_EQ(ack->collector_time_ms, 1'760'000'000'123);
  std::lock_guard lock(service_.mu_);
  EXPECT_EQ(service_.last_state_.hostname(), "pc-hoken-01");
  EXPECT_EQ(service_.last_state_.applied_policy_version(), 4u);
}

TEST_F(GrpcCollectorClientTest, ReportsEventsAndReturnsTheAck) {
  GrpcCollectorClient client(Options());
  std::vector<Event> events(3);
  for (int i = 0; i < 3; ++i) {
    events[i].seq = static_cast<uint64_t>(i + 1);
    events[i].kind = EventKind::kDeviceBlocked;
  }
  auto acked = client.ReportEvents(EncodeRecords(events));
  ASSERT_TRUE(acked.ok()) << acked.error().message;
  EXPECT_EQ(*acked, 3u);
}

TEST_F(GrpcCollectorClientTest, ServerErrorsKeepTheirCodeName) {
  {
    std::lock_guard lock(service_.mu_);
    service_.deny_ = true;
  }
  GrpcCollectorClient client(Options());
  auto ack = client.ReportState(TerminalState{});
  ASSERT_FALSE(ack.ok());
  EXPECT_EQ(ack.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(ack.error().message.find("PERMISSION_DENIED: terminal id mismatch"), std::string::npos)
      << ack.error().message;
}

TEST_F(GrpcCollectorClientTest, WrongServerNameFailsTheHandshake) {
  GrpcCollectorOptions o = Options();
  o.server_name = "someone-else.test";
  GrpcCollectorClient client(o);
  auto ack = client.ReportState(TerminalState{});
  ASSERT_FALSE(ack.ok());
  EXPECT_EQ(ack.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(ack.error().message.find("UNAVAILABLE"), std::string::npos);
}

TEST_F(GrpcCollectorClientTest, UnreachableCollectorIsUnavailable) {
  GrpcCollectorOptions o = Options();
  server_->Shutdown(std::chrono::system_clock::now());
  server_.reset();
  GrpcCollectorClient client(o);
  auto acked = client.ReportEvents({});
  ASSERT_FALSE(acked.ok());
  EXPECT_EQ(acked.error().code, ErrorCode::kUnavailable);
}

TEST_F(GrpcCollectorClientTest, WatchDeliversBundlesUntilCancelled) {
  GrpcCollectorClient client(Options());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<PolicyBundle> updates;
  Status result;
  bool done = false;
  std::jthread watcher([&] {
    Status s = client.WatchPolicy(4, [&](const PolicyBundle& u) {
      std::lock_guard lock(mu);
      updates.push_back(u);
      cv.notify_all();
    });
    std::lock_guard lock(mu);
    result = s;
    done = true;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return !updates.empty(); }));
    EXPECT_EQ(updates[0].version, 5u);
    EXPECT_EQ(updates[0].group, "osaka/suita");
    EXPECT_EQ(updates[0].policy_yaml, "name: p\n");
  }
  client.CancelWatch();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return done; }));
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("CANCELLED"), std::string::npos);
}

}  // namespace
}  // namespace mamori
