#include "agent/transport/grpc_collector_client.h"

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <string_view>

#include "proto/wire/convert.h"
#include "proto/wire/grpc_status.h"

namespace mamori {
namespace {

ErrorCode MapCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return ErrorCode::kInvalidArgument;
    case grpc::StatusCode::NOT_FOUND:
      return ErrorCode::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS:
      return ErrorCode::kAlreadyExists;
    case grpc::StatusCode::PERMISSION_DENIED:
      return ErrorCode::kPermissionDenied;
    case grpc::StatusCode::UNAUTHENTICATED:
      return ErrorCode::kUnauthenticated;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return ErrorCode::kFailedPrecondition;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return ErrorCode::kResourceExhausted;
    // Transient: worth retrying.
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::ABORTED:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInternal;
  }
}

Error FromGrpc(std::string_view method, const grpc::Status& s) {
  std::string msg = std::string(method) + ": " + std::string(GrpcCodeName(s.error_code()));
  if (!s.error_message().empty()) msg += ": " + s.error_message();
  return MakeError(MapCode(s.error_code()), std::move(msg));
}

Error NotEnrolled() {
  return MakeError(ErrorCode::kUnavailable, "the terminal has no certificate yet (enrolling)");
}

std::shared_ptr<grpc::ChannelCredentials> Credentials(std::string_view ca, std::string_view cert,
                                                      std::string_view key) {
  if (cert.empty()) return nullptr;
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = std::string(ca);
  ssl.pem_private_key = std::string(key);
  ssl.pem_cert_chain = std::string(cert);
  return grpc::SslCredentials(ssl);
}

}  // namespace

IssuedCertificate IssuedFromProto(const v1::IssuedCertificate& p) {
  IssuedCertificate c;
  c.terminal_id = p.terminal_id();
  c.group = p.group();
  c.certificate_pem = p.certificate_pem();
  c.chain_pem = p.chain_pem();
  c.ca_pem = p.ca_pem();
  c.not_before_ms = ToMs(p.not_before());
  c.not_after_ms = ToMs(p.not_after());
  c.serial = p.serial();
  return c;
}

class GrpcCollectorClient::ActiveCall {
 public:
  ActiveCall(GrpcCollectorClient& client, grpc::ClientContext& ctx, bool is_watch)
      : client_(client), ctx_(ctx), is_watch_(is_watch) {
    std::lock_guard lock(client_.mu_);
    client_.active_.insert(&ctx_);
    if (is_watch_) client_.watch_ = &ctx_;
  }
  ~ActiveCall() {
    std::lock_guard lock(client_.mu_);
    client_.active_.erase(&ctx_);
    if (is_watch_ && client_.watch_ == &ctx_) client_.watch_ = nullptr;
  }
  ActiveCall(const ActiveCall&) = delete;
  ActiveCall& operator=(const ActiveCall&) = delete;

 private:
  GrpcCollectorClient& client_;
  grpc::ClientContext& ctx_;
  bool is_watch_;
};

GrpcCollectorClient::GrpcCollectorClient(const GrpcCollectorOptions& options)
    : call_timeout_ms_(options.call_timeout.count()) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // The policy stream carries no data for days; without this gRPC stops
  // pinging after two pings and a dead peer goes unnoticed.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(options.reconnect_backoff_initial.count()));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(options.reconnect_backoff_max.count()));
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  if (!options.server_name.empty()) args.SetSslTargetNameOverride(options.server_name);
  // Each channel gets its own connection, not one shared through gRPC's
  // global subchannel pool, so replacing a channel really reconnects.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);

  address_ = options.address;
  args_ = args;
  credentials_ = Credentials(options.ca_pem, options.cert_pem, options.key_pem);
  if (credentials_) {
    stub_ = v1::AgentService::NewStub(grpc::CreateCustomChannel(address_, credentials_, args_));
    generation_ = 1;
  }
}

GrpcCollectorClient::StubRef GrpcCollectorClient::Stub() {
  std::lock_guard lock(mu_);
  return {stub_, generation_};
}

void GrpcCollectorClient::Succeeded(uint64_t generation) {
  std::lock_guard lock(mu_);
  proven_generation_ = std::max(proven_generation_, generation);
}

void GrpcCollectorClient::UseIdentity(const TerminalIdentity& identity) {
  auto credentials = Credentials(identity.ca_pem, identity.cert_pem, identity.key_pem);
  auto stub = v1::AgentService::NewStub(grpc::CreateCustomChannel(address_, credentials, args_));
  std::lock_guard lock(mu_);
  credentials_ = std::move(credentials);
  stub_ = std::move(stub);
  ++generation_;
}

bool GrpcCollectorClient::IdentityProven() {
  std::lock_guard lock(mu_);
  return generation_ != 0 && proven_generation_ >= generation_;
}

Result<IssuedCertificate> GrpcCollectorClient::RenewCertificate(std::string_view csr_pem) {
  const StubRef ref = Stub();
  if (!ref.stub) return NotEnrolled();
  v1::RenewCertificateRequest req;
  req.set_csr_pem(std::string(csr_pem));
  v1::IssuedCertificate resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(call_timeout_ms_.load()));
  grpc::Status s;
  {
    ActiveCall active(*this, ctx, false);
    s = ref.stub->RenewCertificate(&ctx, req, &resp);
  }
  if (!s.ok()) return Failed("RenewCertificate", s);
  Succeeded(ref.generation);
  return IssuedFromProto(resp);
}

GrpcCollectorClient::~GrpcCollectorClient() = default;

void GrpcCollectorClient::SetCallTimeout(std::chrono::milliseconds timeout) {
  call_timeout_ms_.store(timeout.count());
}

Result<StateAckInfo> GrpcCollectorClient::ReportState(const TerminalState& state) {
  v1::StateReport req;
  ToProto(state, &req);
  v1::StateAck resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(call_timeout_ms_.load()));
  const StubRef ref = Stub();
  if (!ref.stub) return NotEnrolled();
  grpc::Status s;
  {
    ActiveCall active(*this, ctx, false);
    s = ref.stub->ReportState(&ctx, req, &resp);
  }
  if (!s.ok()) return Failed("ReportState", s);
  Succeeded(ref.generation);
  StateAckInfo info;
  info.collector_time_ms = ToMs(resp.collector_time());
  info.assigned_policy_version = resp.assigned_policy_version();
  return info;
}

Result<uint64_t> GrpcCollectorClient::ReportEvents(const std::vector<OutboxRecord>& events) {
  v1::EventBatch req;
  for (const OutboxRecord& e : events) {
    // The outbox's bytes as they are: the event was converted once, when
    // it was recorded.
    if (!req.add_events()->ParseFromString(e.payload)) {
      return MakeError(ErrorCode::kInternal, "event " + std::to_string(e.seq) +
                                                 " in the outbox is not a mamori.v1.Event");
    }
  }
  v1::EventAck resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(call_timeout_ms_.load()));
  const StubRef ref = Stub();
  if (!ref.stub) return NotEnrolled();
  grpc::Status s;
  {
    ActiveCall active(*this, ctx, false);
    s = ref.stub->ReportEvents(&ctx, req, &resp);
  }
  if (!s.ok()) return Failed("ReportEvents", s);
  Succeeded(ref.generation);
  return static_cast<uint64_t>(resp.acked_through_seq());
}

Status GrpcCollectorClient::WatchPolicy(uint64_t current_version,
                                        const std::function<void(const PolicyBundle&)>& on_update) {
  v1::WatchPolicyRequest req;
  req.set_current_version(current_version);
  // No deadline: the stream lives as long as the connection; keepalive
  // notices when the peer is gone.
  const StubRef ref = Stub();
  if (!ref.stub) return NotEnrolled();
  grpc::ClientContext ctx;
  ActiveCall active(*this, ctx, true);
  std::unique_ptr<grpc::ClientReaderInterface<v1::PolicyBundle>> reader =
      ref.stub->WatchPolicy(&ctx, req);
  v1::PolicyBundle bundle;
  while (reader->Read(&bundle)) {
    on_update(FromProto(bundle));
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Failed("WatchPolicy", s);
  return Status::Ok();
}

Error GrpcCollectorClient::Failed(std::string_view method, const grpc::Status& s) {
  // The agent paces its retries with its own capped, jittered backoff. A
  // gRPC channel whose collector went away during a slow shutdown can keep
  // failing calls with a stale error without dialling again, so an
  // unreachable collector gets a fresh channel: the retry the agent
  // schedules next is a real connection attempt. Calls in flight keep the
  // old channel alive until they finish.
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    uint64_t generation = 0;
    {
      std::lock_guard lock(mu_);
      credentials = credentials_;
      generation = generation_;
    }
    if (credentials) {
      auto fresh =
          v1::AgentService::NewStub(grpc::CreateCustomChannel(address_, credentials, args_));
      std::lock_guard lock(mu_);
      // An identity switch in between keeps its own channel.
      if (generation == generation_) stub_ = std::move(fresh);
    }
  }
  return FromGrpc(method, s);
}

void GrpcCollectorClient::CancelWatch() {
  std::lock_guard lock(mu_);
  if (watch_ != nullptr) watch_->TryCancel();
}

void GrpcCollectorClient::CancelAll() {
  std::lock_guard lock(mu_);
  for (grpc::ClientContext* ctx : active_) ctx->TryCancel();
}

}  // namespace mamori
