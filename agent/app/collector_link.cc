#include "agent/app/collector_link.h"

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "agent/app/enrollment_token.h"
#include "agent/core/host_info.h"
#include "common/base/file_io.h"
#include "common/base/logging.h"
#include "common/crypto/csr.h"
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

// The identity an enrolling agent keeps in state_dir/identity, as TLS
// material; nullopt before enrollment.
Result<std::optional<TlsMaterial>> LoadEnrolledIdentity(FileIdentityStore& store,
                                                        const Clock& clock) {
  Result<std::optional<TerminalIdentity>> identity = store.Load(clock.NowMs());
  if (!identity.ok()) return identity.error();
  if (!*identity) return std::optional<TlsMaterial>();
  TlsMaterial tls;
  tls.ca_pem = (*identity)->ca_pem;
  tls.cert_pem = (*identity)->cert_pem;
  tls.key_pem = (*identity)->key_pem;
  Result<CertInfo> info = InspectCertificate(tls.cert_pem);
  if (!info.ok()) return info.error();
  tls.cert = std::move(*info);
  return std::optional<TlsMaterial>(std::move(tls));
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
  std::unique_ptr<FileIdentityStore> identity_store;
  Result<TlsMaterial> tls = TlsMaterial{};
  bool enrolled = true;
  if (config.enrollment) {
    identity_store =
        std::make_unique<FileIdentityStore>(IdentityDir(config), config.enrollment->ca_fingerprint);
    auto loaded = LoadEnrolledIdentity(*identity_store, clock);
    if (!loaded.ok()) return loaded.error();
    enrolled = loaded->has_value();
    if (enrolled) tls = std::move(**loaded);
  } else {
    tls = LoadTlsMaterial(config.tls, clock.NowMs());
  }
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
  if (!enrolled) {
    // The id the terminal asks for; the collector has the last word, and
    // the certificate's id applies from the next start.
    core_options.terminal_id =
        config.enrollment->terminal_id.empty() ? host.hostname : config.enrollment->terminal_id;
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
  if (!config.unlock_public_key_file.empty() && !enrolled) {
    GetLogger("agent")->warn(
        "offline unlock codes are refused until the agent restarts after enrollment (the "
        "unlock key derives from the terminal's own key)");
  } else if (!config.unlock_public_key_file.empty()) {
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
  link->clock_ = &clock;
  link->identity_store_ = std::move(identity_store);
  if (link->identity_store_ && enrolled) {
    TerminalIdentity identity;
    identity.key_pem = link->tls_.key_pem;
    identity.cert_pem = link->tls_.cert_pem;
    identity.ca_pem = link->tls_.ca_pem;
    identity.terminal_id = link->core_options_.terminal_id;
    identity.not_before_ms = link->tls_.cert.not_before_ms;
    identity.not_after_ms = link->tls_.cert.not_after_ms;
    link->identity_ = std::move(identity);
  }
  link->cert_subject_ = enrolled ? link->tls_.cert.subject : "(not enrolled yet)";
  // An enrolled agent ignores a token; one left in a file (an installer
  // run again) is removed rather than left readable.
  if (enrolled && config.enrollment && !config.enrollment->token_file.empty()) {
    std::error_code exists_ec;
    if (std::filesystem::exists(config.enrollment->token_file, exists_ec)) {
      GetLogger("identity")
          ->info("already enrolled, the token is not needed: {}",
                 ConsumeEnrollmentToken(*config.enrollment));
    }
  }
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
  core_ = &core;
  core.SetChangeListener([this] { NotifyChange(); });
}

void CollectorLink::StartReporterLocked() {
  if (reporter_ || stopping_ || core_ == nullptr) return;
  ReporterOptions options;
  options.interval = config_.report_interval;
  options.jitter_percent = config_.jitter_percent;
  options.backoff_initial = config_.backoff_initial;
  options.backoff_max = config_.backoff_max;
  reporter_ = std::make_unique<Reporter>(*core_, *outbox_, client_, options);
  reporter_->Start();
}

void CollectorLink::StartIdentityKeeper(const Clock& clock) {
  const EnrollmentConfig& en = *config_.enrollment;
  GrpcEnrollmentOptions enroll_options;
  enroll_options.address = en.address;
  enroll_options.server_name = config_.server_name;
  enroll_options.ca_fingerprint = en.ca_fingerprint;
  enroll_options.now_ms = [&clock] { return clock.NowMs(); };
  enrollment_client_ = std::make_unique<GrpcEnrollmentClient>(enroll_options);

  IdentityKeeperDeps deps;
  deps.store = identity_store_.get();
  deps.enrollment = enrollment_client_.get();
  deps.channel = &client_;
  deps.outbox = outbox_.get();
  deps.clock = &clock;
  deps.make_key = [](std::string_view name) -> Result<KeyAndRequest> {
    Result<KeyAndCsr> made = MakeKeyAndCsr(name);
    if (!made.ok()) return made.error();
    return KeyAndRequest{std::move(made->key_pem), std::move(made->csr_pem)};
  };
  deps.read_token = [en] { return ReadEnrollmentToken(en); };
  deps.token_used = [en] { GetLogger("identity")->info("{}", ConsumeEnrollmentToken(en)); };
  deps.on_enrolled = [this](const TerminalIdentity&) {
    std::lock_guard lock(reporter_mu_);
    StartReporterLocked();
  };
  deps.notify = [this] { NotifyChange(); };

  IdentityKeeperOptions options;
  options.backoff_initial = config_.backoff_initial;
  options.backoff_max = config_.backoff_max;
  options.enrollment.hostname = core_options_.hostname;
  options.enrollment.terminal_id = en.terminal_id;
  options.enrollment.agent_version = MAMORI_VERSION;
  options.enrollment.os = core_options_.os;
  keeper_ = std::make_unique<IdentityKeeper>(std::move(deps), std::move(options), identity_);
  keeper_->Start();
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
  std::lock_guard lock(reporter_mu_);
  if (reporter_) reporter_->NotifyChange();
}

void CollectorLink::StartReporting() {
  {
    std::lock_guard lock(reporter_mu_);
    reporting_ = true;
    if (!config_.enrollment || identity_) StartReporterLocked();
  }
  if (config_.enrollment) StartIdentityKeeper(*clock_);
}

void CollectorLink::StopReporting(std::chrono::milliseconds budget) {
  {
    std::lock_guard lock(reporter_mu_);
    stopping_ = true;
  }
  // No enrollment or renewal starts from here on; one in flight is bounded
  // by its call deadline.
  if (keeper_) keeper_->Stop();
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
