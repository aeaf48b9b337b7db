#include "agent/app/collector_link.h"

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "agent/core/host_info.h"
#include "common/base/file_io.h"
#include "common/crypto/identity.h"
#include "common/crypto/unlock_key.h"
#include "common/policy/policy.h"
#include "common/policy/policy_parser.h"
#include "common/policy/policy_signing.h"

namespace mamori {
namespace {

GrpcCollectorOptions ClientOptions(const AgentConfig& config, const TlsMaterial& tls) {
  GrpcCollectorOptions options;
  options.address = config.collector_address;
  options.server_name = config.server_name;
  options.ca_pem = tls.ca_pem;
  options.cert_pem = tls.cert_pem;
  options.key_pem = tls.key_pem;
  options.keepalive_time = config.keepalive_time;
  options.keepalive_timeout = config.keepalive_timeout;
  options.reconnect_backoff_initial = config.backoff_initial;
  options.reconnect_backoff_max = config.backoff_max;
  return options;
}

}  // namespace

Result<UnlockScope> DeriveTerminalUnlockScope(const TlsMaterial& tls,
                                              const std::string& public_key_file) {
  auto fail = [&](const Error& e) {
    return MakeError(e.code, "unlock.public_key_file " + public_key_file + ": " + e.message);
  };
  Result<std::string> collector_key = ReadFileToString(public_key_file);
  if (!collector_key.ok()) return fail(collector_key.error());
  std::string terminal_id;
  for (const std::string& uri : tls.cert.uris) {
    std::optional<PeerIdentity> id = ParseIdentityUri(uri);
    if (id && id->role == PeerRole::kTerminal) terminal_id = id->id;
  }
  if (terminal_id.empty()) {
    return fail(MakeError(ErrorCode::kInvalidArgument,
                          "the agent's certificate names no terminal (mamori://terminal/<id>)"));
  }
  Result<std::string> deployment = DeploymentIdFromCa(tls.ca_pem);
  if (!deployment.ok()) return fail(deployment.error());
  Result<std::string> key = DeriveUnlockKey(tls.key_pem, *collector_key, *deployment, terminal_id);
  if (!key.ok()) return fail(key.error());
  return UnlockScope{std::move(*deployment), std::move(terminal_id), std::move(*key)};
}

Result<std::unique_ptr<CollectorLink>> CollectorLink::Open(const AgentConfig& config,
                                                           const Clock& clock) {
  auto tls = LoadTlsMaterial(config.tls, clock.NowMs());
  if (!tls.ok()) return tls.error();
  auto policy_key = PolicyPublicKey::LoadFile(config.policy_public_key_file);
  if (!policy_key.ok()) {
    return MakeError(policy_key.error().code,
                     "policy.public_key_file " + policy_key.error().message);
  }

  std::error_code ec;
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kIo,
                     "state_dir " + config.state_dir + ": cannot create: " + ec.message());
  }
  // Holds the seq counters; nobody else needs to read it. (Mode bits only:
  // on Windows the state directory's ACL comes from the data directory.)
  std::filesystem::permissions(config.state_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);

  AgentCoreOptions core_options;
  core_options.mode = config.mode;
  core_options.max_clock_skew_ms = config.max_clock_skew.count();
  core_options.report_interval_s = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(config.report_interval).count());
  const HostInfo host = ReadHostInfo();
  core_options.hostname = host.hostname;
  core_options.os = host.os;
  // The id the collector knows this terminal by: exceptions issued for a
  // terminal name it.
  for (const std::string& uri : tls->cert.uris) {
    const auto id = ParseIdentityUri(uri);
    if (id && id->role == PeerRole::kTerminal) core_options.terminal_id = id->id;
  }
  if (!config.policy_file.empty()) {
    auto text = ReadFileToString(config.policy_file);
    if (!text.ok()) return MakeError(text.error().code, "policy_file: " + text.error().message);
    auto policy = ParsePolicy(*text, config.policy_file);
    if (!policy.ok()) return policy.error();
    core_options.local_policy = std::move(*policy);
    core_options.local_policy_source = config.policy_file;
  }

  std::optional<UnlockScope> unlock_scope;
  if (!config.unlock_public_key_file.empty()) {
    Result<UnlockScope> scope = DeriveTerminalUnlockScope(*tls, config.unlock_public_key_file);
    if (!scope.ok()) return scope.error();
    unlock_scope = std::move(*scope);
  }

  auto outbox = JournalEventOutbox::Open(config.state_dir, clock, config.outbox_max_events);
  if (!outbox.ok()) return outbox.error();
  auto link = std::unique_ptr<CollectorLink>(
      new CollectorLink(config, std::move(*tls), std::move(*policy_key), std::move(core_options),
                        std::move(*outbox)));
  link->unlock_scope_ = std::move(unlock_scope);
  return link;
}

CollectorLink::CollectorLink(const AgentConfig& config, TlsMaterial tls, PolicyPublicKey key,
                             AgentCoreOptions core_options,
                             std::unique_ptr<JournalEventOutbox> outbox)
    : config_(config),
      tls_(std::move(tls)),
      key_id_(key.key_id()),
      verifier_(std::move(key)),
      core_options_(std::move(core_options)),
      outbox_(std::move(outbox)),
      client_(ClientOptions(config_, tls_)),
      policy_cache_(config_.state_dir),
      exception_store_(config_.state_dir) {}

CollectorLink::~CollectorLink() = default;

void CollectorLink::AttachReporter(AgentCore& core) {
  ReporterOptions options;
  options.interval = config_.report_interval;
  options.jitter_percent = config_.jitter_percent;
  options.backoff_initial = config_.backoff_initial;
  options.backoff_max = config_.backoff_max;
  reporter_ = std::make_unique<Reporter>(core, *outbox_, client_, options);
  Reporter* reporter = reporter_.get();
  core.SetChangeListener([reporter] { reporter->NotifyChange(); });
}

UnlockServiceDeps CollectorLink::UnlockDeps(AgentCore& core, UnlockStateStore& state,
                                            const Clock& clock) {
  UnlockServiceDeps deps;
  deps.clock = &clock;
  deps.outbox = &outbox();
  deps.state = &state;
  deps.scope = unlock_scope_;
  deps.devices = [&core] { return core.Snapshot().devices; };
  deps.grant = [&core](const DeviceException& exception) {
    return core.AddLocalException(exception);
  };
  deps.notify = [this] { NotifyChange(); };
  return deps;
}

void CollectorLink::NotifyChange() {
  if (reporter_) reporter_->NotifyChange();
}

void CollectorLink::StartReporting() {
  if (reporter_) reporter_->Start();
}

void CollectorLink::StopReporting(std::chrono::milliseconds budget) {
  if (!reporter_) return;
  const auto deadline = std::chrono::steady_clock::now() + budget;
  client_.SetCallTimeout(budget);
  // A call already in flight carries the long timeout; cut it off when the
  // budget is spent so shutdown stays bounded.
  std::jthread guard([this, deadline](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    if (!cv.wait_until(lock, stop, deadline, [] { return false; })) client_.CancelAll();
  });
  reporter_->Stop(deadline);
  guard.request_stop();
  guard.join();
  reporter_.reset();
}

}  // namespace mamori
