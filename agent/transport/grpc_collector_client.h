#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "agent/core/collector_client.h"
#include "agent/core/terminal_identity.h"
#include "mamori/v1/agent.grpc.pb.h"
#include "mamori/v1/enrollment.pb.h"

namespace mamori {

struct GrpcCollectorOptions {
  std::string address;      // host:port
  std::string server_name;  // expected name in the server certificate; empty = host
  // PEM: the deployment's CA, and this terminal's certificate and key.
  // Without a certificate (a terminal not enrolled yet) every call fails
  // until UseIdentity gives one.
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  std::chrono::milliseconds call_timeout{std::chrono::seconds(10)};
  // Keepalive pings detect a dead collector (or a silently dropped NAT
  // mapping) on the otherwise idle policy stream.
  std::chrono::milliseconds keepalive_time{std::chrono::seconds(30)};
  std::chrono::milliseconds keepalive_timeout{std::chrono::seconds(10)};
  int max_message_bytes = 16 << 20;
  // gRPC keeps its own reconnect backoff per channel (growing to two minutes)
  // and fails calls at once while it runs, whatever the agent's retry loop
  // does. It is capped here to the agent's configured backoff so a returning
  // collector is reached within `reconnect_backoff_max`.
  std::chrono::milliseconds reconnect_backoff_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds reconnect_backoff_max{std::chrono::seconds(60)};
};

// The agent service over one gRPC channel with mutual TLS.
class GrpcCollectorClient final : public CollectorClient, public IdentityChannel {
 public:
  explicit GrpcCollectorClient(const GrpcCollectorOptions& options);
  ~GrpcCollectorClient() override;

  Result<StateAckInfo> ReportState(const TerminalState& state) override;
  Result<uint64_t> ReportEvents(const std::vector<OutboxRecord>& events) override;
  Status WatchPolicy(uint64_t current_version,
                     const std::function<void(const PolicyBundle&)>& on_update) override;
  void CancelWatch() override;

  Result<IssuedCertificate> RenewCertificate(std::string_view csr_pem) override;
  // A new channel with `identity`; calls in flight finish on the old one.
  void UseIdentity(const TerminalIdentity& identity) override;
  bool IdentityProven() override;

  // Deadline for unary calls started from now on; shutdown shortens it so
  // the last events cannot hold the process for the full timeout.
  void SetCallTimeout(std::chrono::milliseconds timeout);
  // Cancels every call in progress, unary ones included.
  void CancelAll();

 private:
  // Registers a context so CancelAll can reach it.
  class ActiveCall;

  // Converts a failed call's status; resets the channel's connect backoff
  // when the collector was unreachable.
  Error Failed(std::string_view method, const grpc::Status& s);

  // The current stub (and its channel); replaced when the collector was
  // unreachable or the identity changed. Calls take a reference so a
  // replacement never pulls a channel from under a call in flight. Null
  // before the terminal has an identity.
  struct StubRef {
    std::shared_ptr<v1::AgentService::Stub> stub;
    uint64_t generation = 0;  // of the identity the stub uses
  };
  StubRef Stub();
  // A call made with identity `generation` succeeded.
  void Succeeded(uint64_t generation);

  std::string address_;
  grpc::ChannelArguments args_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;  // guarded by mu_
  std::shared_ptr<v1::AgentService::Stub> stub_;           // guarded by mu_
  uint64_t generation_ = 0;                                // guarded by mu_
  uint64_t proven_generation_ = 0;                         // guarded by mu_
  std::atomic<int64_t> call_timeout_ms_;

  std::mutex mu_;
  std::set<grpc::ClientContext*> active_;  // guarded by mu_
  grpc::ClientContext* watch_ = nullptr;   // guarded by mu_
};

// The domain form of an issued certificate (shared with the enrollment
// client).
IssuedCertificate IssuedFromProto(const v1::IssuedCertificate& p);

}  // namespace mamori
