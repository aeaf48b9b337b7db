#include "server/app/collector_server.h"

#include <grpcpp/server_builder.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "common/base/file_io.h"
#include "common/base/logging.h"
#include "common/crypto/credentials.h"
#include "common/policy/policy_signing.h"
#include "server/tls/server_transport.h"

namespace mamori {

// An EnrollRequest is a token, a CSR (at most 16 KiB) and a few names.
constexpr int64_t kMaxEnrollMessageBytes = 32 * 1024;

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
  // Loaded before the agent service accepts reports; from then on every
  // committed report updates it.
  s->index_ = std::make_unique<ComplianceIndex>(ComplianceIndex::AssignedBy(s->hub_.get()), clock,
                                                config.compliance);
  {
    const auto started = std::chrono::steady_clock::now();
    if (Status st = s->index_->Load(s->store_.get()); !st) return st.error();
    log->info("compliance index: {} terminal(s) loaded in {} ms", s->index_->size(),
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count());
  }
  s->audit_ = std::make_unique<StoreAuditTrail>(s->store_.get(), clock);
  if (!config.enrollment.issuing_ca_cert_file.empty()) {
    auto issuer = LoadIssuingCa(config.enrollment, tls->ca_pem, clock->NowMs());
    if (!issuer.ok()) return issuer.error();
    // No deny list is consulted yet: revoked ids are refused once the
    // store-backed list is wired here.
    s->enrollment_ =
        std::make_unique<EnrollmentWorkflow>(s->store_.get(), s->audit_.get(), nullptr, clock,
                                             config.enrollment, std::move(*issuer), tls->ca_pem);
  }
  s->agent_service_ =
      std::make_unique<AgentServiceImpl>(s->store_.get(), s->writer_.get(), s->hub_.get(), clock,
                                         config.limits, s->index_.get(), s->enrollment_.get());
  web::AuthConfig auth_config;
  auth_config.session_ttl_ms = config.web.session_ttl_ms;
  s->auth_ = std::make_unique<web::AuthService>(s->store_.get(), clock, auth_config);
  s->ledger_ =
      std::make_unique<MediaLedger>(s->store_.get(), s->hub_.get(), s->audit_.get(), clock);
  s->exceptions_ = std::make_unique<ExceptionWorkflow>(s->store_.get(), s->hub_.get(),
                                                       s->audit_.get(), clock, config.exceptions);
  if (!config.unlock_key_file.empty()) {
    auto key = ReadFileToString(config.unlock_key_file);
    if (!key.ok()) return MakeError(key.error().code, "unlock.key_file: " + key.error().message);
    auto issuer =
        UnlockIssuer::Create(s->store_.get(), s->audit_.get(), clock, std::move(*key), tls->ca_pem);
    if (!issuer.ok()) {
      return MakeError(issuer.error().code,
                       "unlock.key_file " + config.unlock_key_file + ": " + issuer.error().message);
    }
    s->unlock_ = std::move(*issuer);
  }
  s->admin_service_ = std::make_unique<AdminServiceImpl>(
      s->store_.get(), s->hub_.get(), clock, config.compliance, s->auth_.get(), s->index_.get(),
      s->ledger_.get(), s->audit_.get(), s->exceptions_.get(), s->unlock_.get(),
      s->enrollment_.get());

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, MakeServerCredentials(*tls, clock), &s->port_);
  builder.RegisterService(s->agent_service_.get());
  builder.RegisterService(s->admin_service_.get());
  ApplyServerOptions(builder, config.limits.max_message_bytes);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot listen on " + config.listen + " (address in use or not local?)");
  }
  if (!config.enrollment.listen.empty()) {
    // A port of its own, without client certificates, that serves nothing
    // but Enroll: the agent and admin services stay behind mutual TLS.
    s->enrollment_service_ = std::make_unique<EnrollmentServiceImpl>(s->enrollment_.get());
    grpc::ServerBuilder enroll_builder;
    // Several addresses (IPv4 and IPv6 side by side) are separated by commas.
    const std::vector<std::string> addresses = SplitListenAddresses(config.enrollment.listen);
    std::vector<int> ports(addresses.size(), 0);
    auto credentials = MakeEnrollmentCredentials(*tls);
    for (std::size_t i = 0; i < addresses.size(); ++i) {
      enroll_builder.AddListeningPort(addresses[i], credentials, &ports[i]);
    }
    enroll_builder.RegisterService(s->enrollment_service_.get());
    ApplyServerOptions(enroll_builder, kMaxEnrollMessageBytes);
    s->enrollment_server_ = enroll_builder.BuildAndStart();
    s->enrollment_port_ = ports.empty() ? 0 : ports.front();
    if (!s->enrollment_server_ || std::find(ports.begin(), ports.end(), 0) != ports.end()) {
      return MakeError(ErrorCode::kUnavailable, "enrollment.listen: cannot listen on " +
                                                    config.enrollment.listen +
                                                    " (address in use or not local?)");
    }
    log->info("enrollment listening on {} (port {})", config.enrollment.listen,
              s->enrollment_port_);
  }
  s->queries_ = std::make_unique<AdminQueries>(s->store_.get(), s->hub_.get(), clock,
                                               config.compliance, s->index_.get(), s->audit_.get());
  // The trend chart's daily records, kept whether or not the dashboard is on
  // (mamorictl trend reads them too).
  s->recorder_ = std::make_unique<ComplianceRecorder>(s->queries_.get(), std::chrono::minutes(10));
  if (config.web.enabled) {
    s->web_handler_ =
        std::make_unique<web::WebHandler>(s->auth_.get(), s->queries_.get(), s->ledger_.get(),
                                          s->audit_.get(), s->exceptions_.get(), s->unlock_.get());
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
  if (recorder_) recorder_->Stop();
  if (hub_) hub_->CloseAll();
  if (enrollment_server_) {
    enrollment_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (writer_) writer_->Stop();
  server_.reset();
  enrollment_server_.reset();
  store_.reset();
  log->info("shutdown complete");
}

}  // namespace mamori
