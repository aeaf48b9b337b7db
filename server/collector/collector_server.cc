#include "server/collector/collector_server.h"

#include <chrono>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_builder.h>

#include "common/credentials.h"
#include "common/logging.h"
#include "server/collector/cert_verifier.h"

namespace mamori {
namespace {

std::shared_ptr<grpc::ServerCredentials> MakeCredentials(const TlsMaterial& tls,
                                                         const Clock* clock) {
  using grpc::experimental::IdentityKeyCertPair;
  std::vector<IdentityKeyCertPair> pairs{{tls.key_pem, tls.cert_pem}};
  auto provider =
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(tls.ca_pem, pairs);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // The TLS stack asks for a certificate but leaves the decision to
  // PeerCertificateVerifier, which verifies it against the CA and logs every
  // refusal with its reason. The handshake still proves key possession.
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PeerCertificateVerifier>(
          tls.ca_pem, clock));
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace

Result<std::unique_ptr<CollectorServer>> CollectorServer::Start(const CollectorConfig& config,
                                                                const Clock* clock) {
  static const auto log = GetLogger("collector");
  auto tls = LoadTlsMaterial(config.tls, clock->NowMs());
  if (!tls.ok()) return tls.error();

  std::unique_ptr<CollectorServer> s(new CollectorServer());
  auto store = OpenSqliteStore(config.store_path, config.store);
  if (!store.ok()) return store.error();
  s->store_ = std::move(store).value();
  s->writer_ = std::make_unique<IngestWriter>(s->store_.get(), 512, 100'000);
  s->hub_ = std::make_unique<PolicyHub>(s->store_.get(), clock);
  if (Status st = s->hub_->Load(); !st) return st.error();
  s->agent_service_ = std::make_unique<AgentServiceImpl>(s->store_.get(), s->writer_.get(),
                                                         s->hub_.get(), clock, config.limits);
  s->admin_service_ = std::make_unique<AdminServiceImpl>(s->store_.get(), s->hub_.get(), clock,
                                                         config.compliance);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, MakeCredentials(*tls, clock), &s->port_);
  builder.RegisterService(s->agent_service_.get());
  builder.RegisterService(s->admin_service_.get());
  // Messages up to twice the limit reach the service, which refuses and logs
  // them with the sender's identity; beyond that the transport cuts them off.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<int64_t>(config.limits.max_message_bytes * 2, INT32_MAX)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot listen on " + config.listen + " (address in use or not local?)");
  }
  log->info("collector listening on {} (port {}), store {} (schema v{})", config.listen,
            s->port_, config.store_path, s->store_->SchemaVersion());
  return s;
}

CollectorServer::~CollectorServer() { Shutdown(); }

void CollectorServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  static const auto log = GetLogger("collector");
  log->info("shutting down: finishing in-flight calls");
  if (hub_) hub_->CloseAll();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (writer_) writer_->Stop();
  server_.reset();
  store_.reset();
  log->info("shutdown complete");
}

}  // namespace mamori
