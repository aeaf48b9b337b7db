#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/app/agent_config.h"
#include "agent/core/agent_core.h"
#include "agent/core/identity_keeper.h"
#include "agent/core/policy_verifier.h"
#include "agent/core/reporter.h"
#include "agent/core/unlock_service.h"
#include "agent/outbox/event_journal.h"
#include "agent/storage/file_exception_store.h"
#include "agent/storage/file_identity_store.h"
#include "agent/storage/file_policy_cache.h"
#include "agent/transport/grpc_collector_client.h"
#include "agent/transport/grpc_enrollment_client.h"
#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/crypto/credentials.h"
#include "common/policy/unlock_code.h"

namespace mamori {

// What an agent that reports to a collector runs on besides its device
// backend, wired from its configuration the same way on every OS (the Linux
// agent_main.cc and the Windows windows_agent.cc): the event journal,
// the pinned-key policy verifier, the signed policy cache, the gRPC
// collector client and, once the core exists, the reporter.
class CollectorLink {
 public:
  // In this order, each failure naming what it is about: the TLS files
  // (checked now, so an expired or mismatched certificate does not only
  // show as endless reconnects; with an enrollment section, the identity
  // in state_dir/identity, which may not exist yet), policy.public_key_file, state_dir
  // (created, owner-only where the OS has mode bits), policy_file (the
  // bootstrap policy, parsed into core_options()), then the journal.
  static Result<std::unique_ptr<CollectorLink>> Open(const AgentConfig& config, const Clock& clock);
  ~CollectorLink();
  CollectorLink(const CollectorLink&) = delete;
  CollectorLink& operator=(const CollectorLink&) = delete;

  EventOutbox& outbox() { return *outbox_; }
  const PolicyVerifier& verifier() const { return verifier_; }
  PolicyCache& policy_cache() { return policy_cache_; }
  // The agent's state directory (created by Open).
  const std::string& state_dir() const { return config_.state_dir; }
  // Local exceptions and the last clock comparison, in state_dir.
  ExceptionStore& exception_store() { return exception_store_; }
  // Mode, report interval, host and OS, the terminal id of the certificate,
  // and the bootstrap policy.
  const AgentCoreOptions& core_options() const { return core_options_; }
  // The certificate's subject; "(not enrolled yet)" before enrollment.
  const std::string& cert_subject() const { return cert_subject_; }
  const std::string& policy_key_id() const { return key_id_; }
  // This terminal's offline unlock scope (its key derived from its own key
  // and unlock.public_key_file); nullopt when that is not configured.
  const std::optional<UnlockScope>& unlock_scope() const { return unlock_scope_; }
  // What the offline unlock service needs, wired to this link and `core`:
  // accepted codes become the core's local exceptions, events go to this
  // outbox and wake the reporter.
  UnlockServiceDeps UnlockDeps(AgentCore& core, UnlockStateStore& state, const Clock& clock);

  // Creates the reporter over `core` and makes core changes wake it. Call
  // once, after the core was constructed over outbox(), verifier() and
  // policy_cache() and before its Start (the change listener must be set
  // by then); call StopReporting before `core` is destroyed.
  void AttachReporter(AgentCore& core);
  // Wakes the reporter for events recorded outside the core (unlock codes).
  void NotifyChange();
  // Starts the reporter attached above (after the core started). With an
  // enrollment section, also the identity keeper: it enrolls first when
  // the terminal has no certificate (the reporter starts once it has one)
  // and renews the certificate from then on. Events recorded meanwhile
  // wait in the journal.
  void StartReporting();
  // Stops the reporter, giving the last events (AGENT_STOPPING among them)
  // at most `budget` to reach the collector; a call in flight is cancelled
  // when the budget is spent. Idempotent.
  void StopReporting(std::chrono::milliseconds budget);

 private:
  CollectorLink(const AgentConfig& config, TlsMaterial tls, PolicyPublicKey key,
                AgentCoreOptions core_options, std::unique_ptr<JournalEventOutbox> outbox);
  // Creates and starts the reporter (once the terminal has an identity).
  void StartReporterLocked();
  void StartIdentityKeeper(const Clock& clock);

  const AgentConfig config_;
  const TlsMaterial tls_;
  const std::string key_id_;
  const PinnedKeyPolicyVerifier verifier_;
  const AgentCoreOptions core_options_;
  std::unique_ptr<JournalEventOutbox> outbox_;
  GrpcCollectorClient client_;
  FilePolicyCache policy_cache_;
  FileExceptionStore exception_store_;
  std::string cert_subject_;
  std::unique_ptr<FileIdentityStore> identity_store_;
  std::optional<TerminalIdentity> identity_;  // as loaded at Open
  std::unique_ptr<GrpcEnrollmentClient> enrollment_client_;
  std::unique_ptr<IdentityKeeper> keeper_;
  const Clock* clock_ = nullptr;
  AgentCore* core_ = nullptr;
  std::mutex reporter_mu_;
  bool reporting_ = false;              // guarded by reporter_mu_: StartReporting called
  bool stopping_ = false;               // guarded by reporter_mu_
  std::unique_ptr<Reporter> reporter_;  // guarded by reporter_mu_ (created once)
  std::optional<UnlockScope> unlock_scope_;
};

// The unlock scope of the terminal whose TLS material is `tls`, with the
// collector's unlock public key read from `public_key_file`.
Result<UnlockScope> DeriveTerminalUnlockScope(const TlsMaterial& tls,
                                              const std::string& public_key_file);

}  // namespace mamori
