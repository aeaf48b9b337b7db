#include "server/collector/collector_server.h"

#include <grpcpp/server_builder.h>

#include <chrono>

#include "common/credentials.h"
#include "common/logging.h"
#include "common/policy_signing.h"
#include "server/collector/server_transport.h"

namespace mamori {
Result<std::unique_ptr<CollectorServer>> CollectorServer::Start(const CollectorConfig& config,
                                                                const Clock* clock) {
  static const auto log = GetLogger("collector");
  auto tls = LoadTlsMaterial(config.tls, clock->NowMs());
  if (!tls.ok()) return tls.error();
  // Fail safe: without its signing key the collector could only send
  // policies every agent refuses.
  auto signing_key = PolicySigningKey::LoadFile(config.policy_signing_key_file);
  if (!signing_key.ok()) {
    return MakeError(signing_key.error().code,
                     "policy.signing_key_file " + signing_key.error().message);
  }

  std::unique_ptr<CollectorServer> s(new CollectorServer());
  auto store = OpenSqliteStore(config.store_path, config.store);
  if (!store.ok()) return store.error();
  s->store_ = std::move(store).value();
  s->writer_ = std::make_unique<IngestWriter>(s->store_.get(), 512, 100'000);
  s->hub_ = std::make_unique<PolicyHub>(s->store_.get(), clock, *signing_key);
  if (Status st = s->hub_->Load(); !st) return st.error();
  s->agent_service_ = std::make_unique<AgentServiceImpl>(s->store_.get(), s->writer_.get(),
                                                         s->hub_.get(), clock, config.limits);
  web::AuthConfig auth_config;
  auth_config.session_ttl_ms = config.web.session_ttl_ms;
  s->auth_ = std::make_unique<web::AuthService>(s->store_.get(), clock, auth_config);
  s->admin_service_ = std::make_unique<AdminServiceImpl>(s->store_.get(), s->hub_.get(), clock,
                                                         config.compliance, s->auth_.get());

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, MakeServerCredentials(*tls, clock), &s->port_);
  builder.RegisterService(s->agent_service_.get());
  builder.RegisterService(s->admin_service_.get());
  ApplyServerOptions(builder, config.limits);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot listen on " + config.listen + " (address in use or not local?)");
  }
  if (config.web.enabled) {
    s->queries_ =
        std::make_unique<AdminQueries>(s->store_.get(), s->hub_.get(), clock, config.compliance);
    s->web_handler_ = std::make_unique<web::WebHandler>(s->auth_.get(), s->queries_.get());
    auto web_server = web::WebServer::Start(config.web, s->web_handler_.get());
    if (!web_server.ok()) return web_server.error();
    s->web_server_ = std::move(web_server).value();
  }
  log->info("collector listening on {} (port {}), store {} (schema v{}), policy key {}",
            config.listen, s->port_, config.store_path, s->store_->SchemaVersion(),
            signing_key->key_id());
  return s;
}

CollectorServer::~CollectorServer() { Shutdown(); }

void CollectorServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  static const auto log = GetLogger("collector");
  log->info("shutting down: finishing in-flight calls");
  if (web_server_) web_server_->Shutdown();
  if (hub_) hub_->CloseAll();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (writer_) writer_->Stop();
  server_.reset();
  store_.reset();
  log->info("shutdown complete");
}

}  // namespace mamori
