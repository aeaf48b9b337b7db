#include "server/ingest/agent_service.h"

#include <algorithm>

#include "common/base/jst_time.h"
#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "common/policy/unlock_code.h"
#include "proto/wire/convert.h"
#include "server/ingest/report_sanitizer.h"
#include "server/tls/peer_auth.h"

namespace mamori {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("agent-service");
  return log;
}

// Authenticates a terminal and checks the optional id in the body and the
// message size. Returns OK or the status to refuse the call with (logged).
grpc::Status Admit(grpc::CallbackServerContext* ctx, std::string_view method,
                   std::string_view body_terminal_id, std::size_t message_bytes, int64_t max_bytes,
                   AuthenticatedPeer* out) {
  auto peer = IdentifyPeer(ctx->auth_context().get(), ctx->peer());
  if (grpc::Status s = RequireRole(peer, PeerRole::kTerminal); !s.ok()) {
    Log()->warn("{} from {} refused: {}", method, ctx->peer(), s.error_message());
    return s;
  }
  if (!body_terminal_id.empty() && body_terminal_id != peer->identity.id) {
    Log()->warn("{} refused: certificate of terminal '{}' sent a message claiming terminal '{}'",
                method, peer->identity.id, SanitizeDeviceString(body_terminal_id, 128));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "message names terminal '" + SanitizeDeviceString(body_terminal_id, 128) +
                            "' but the certificate is for '" + peer->identity.id + "'");
  }
  if (static_cast<int64_t>(message_bytes) > max_bytes) {
    Log()->warn("{} from terminal '{}' refused: message of {} bytes exceeds the limit of {}",
                method, peer->identity.id, message_bytes, max_bytes);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "message of " + std::to_string(message_bytes) +
                            " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  *out = std::move(peer).value();
  return grpc::Status::OK;
}

// Streams the policy in force for one terminal's group: the current bundle
// if newer than what the agent has, then every change. One write in flight;
// a change that arrives during a write is sent when it completes.
class PolicyWatchReactor final : public grpc::ServerWriteReactor<v1::PolicyBundle> {
 public:
  PolicyWatchReactor(PolicyHub* hub, AuthenticatedPeer peer, uint64_t current_version)
      : hub_(hub), peer_(std::move(peer)), sent_version_(current_version) {
    // Register before reading the current policy so a change in between is
    // not missed; Offer ignores versions already sent.
    watch_id_ = hub_->AddWatcher(
        peer_.group, [this](const ResolvedPolicy& r) { Offer(r); },
        [this] {
          std::lock_guard lock(mu_);
          FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "collector is shutting down"));
        });
    if (auto r = hub_->Resolve(peer_.group)) Offer(*r);
    Log()->info("terminal '{}' watching policy of group '{}' from version {}", peer_.identity.id,
                peer_.group, current_version);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    MaybeWriteLocked();
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    hub_->RemoveWatcher(watch_id_);
    delete this;
  }

 private:
  void Offer(const ResolvedPolicy& r) {
    std::lock_guard lock(mu_);
    if (r.stored.version <= sent_version_) return;
    pending_ = r.stored;
    MaybeWriteLocked();
  }

  void MaybeWriteLocked() {
    if (writing_ || finished_ || !pending_) return;
    const PolicyBundle& p = *pending_;
    bundle_.Clear();
    ToProto(p, &bundle_);
    sent_version_ = p.version;
    pending_.reset();
    writing_ = true;
    StartWrite(&bundle_);
  }

  void FinishLocked(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  PolicyHub* hub_;
  AuthenticatedPeer peer_;
  PolicyHub::WatchId watch_id_ = 0;
  std::mutex mu_;
  uint64_t sent_version_;                // guarded by mu_
  std::optional<PolicyBundle> pending_;  // guarded by mu_
  bool writing_ = false;                 // guarded by mu_
  bool finished_ = false;                // guarded by mu_
  v1::PolicyBundle bundle_;              // guarded by mu_ while writing_
};

// Matches each reported use of an unlock code with the code this collector
// issued; a use of a code it never issued for that terminal (forged with
// the terminal's key, replayed from elsewhere, another deployment's) is
// raised to an alert with the reason, so it stands out in the events.
void ReconcileUnlockUses(Store& store, const std::string& terminal, std::vector<Event>& events) {
  for (Event& e : events) {
    if (e.kind != EventKind::kUnlockCodeAccepted) continue;
    std::optional<UnlockUseReport> use = ParseUnlockAcceptedDetail(e.detail);
    Result<bool> known =
        use ? store.MarkUnlockCodeUsed(terminal, use->code, e.time_ms, use->requester)
            : Result<bool>(false);
    if (!known.ok()) {
      Log()->error("reconciling an unlock code use of terminal '{}' failed: {}", terminal,
                   known.error().message);
      continue;
    }
    if (!*known) {
      Log()->warn("terminal '{}' reports an unlock code this collector never issued to it: {}",
                  terminal, e.detail);
      // Idempotent: a failed group commit runs this work again on its own.
      constexpr std::string_view kNeverIssued =
          " [collector: this code was never issued for this terminal]";
      e.severity = Severity::kAlert;
      if (e.detail.find(kNeverIssued) == std::string::npos) e.detail += kNeverIssued;
    }
  }
}

// The audit action for an event that uses or ends a time-limited exception
// or an unlock code on the terminal, or "" for any other event.
std::string_view TerminalAuditAction(EventKind kind) {
  switch (kind) {
    case EventKind::kExceptionStarted:
      return "exception.start";
    case EventKind::kExceptionEnded:
      return "exception.end";
    case EventKind::kUnlockCodeAccepted:
      return "unlock.use";
    case EventKind::kUnlockCodeRefused:
      return "unlock.refuse";
    default:
      return "";
  }
}

// Uses and ends of exceptions and unlock codes are audit records as well as
// events, next to the requests and approvals that caused them: an auditor
// reads one log. Only events not stored before are recorded (an agent
// resends a batch whose answer it lost), in the same transaction as the
// events themselves.
Status AuditTerminalActions(Store& store, const std::string& terminal,
                            const std::vector<Event>& events, int64_t now_ms) {
  // Almost every batch has none of these: no store read for it.
  if (std::none_of(events.begin(), events.end(),
                   [](const Event& e) { return !TerminalAuditAction(e.kind).empty(); })) {
    return Status::Ok();
  }
  Result<uint64_t> acked = store.AckedThrough(terminal);
  if (!acked.ok()) return acked.error();
  for (const Event& e : events) {
    const std::string_view action = TerminalAuditAction(e.kind);
    if (action.empty() || e.seq <= *acked) continue;
    AuditRecord record;
    record.at_ms = now_ms;
    record.actor = "terminal:" + terminal;
    record.action = std::string(action);
    record.target = "terminal:" + terminal;
    if (e.device) {
      record.target += " device:" + e.device->identity.VidPid() +
                       " serial:" + SanitizeDeviceString(e.device->identity.serial, 128);
    }
    record.detail = "seq " + std::to_string(e.seq) + ", " + JstIso8601(e.time_ms) +
                    " by the terminal's clock: " + e.detail;
    record.outcome = e.kind == EventKind::kUnlockCodeRefused ? "denied" : "ok";
    if (Result<int64_t> id = store.AppendAudit(record); !id.ok()) return id.error();
  }
  return Status::Ok();
}

}  // namespace

AgentServiceImpl::AgentServiceImpl(Store* store, IngestWriter* writer, PolicyHub* hub,
                                   const Clock* clock, CollectorLimits limits,
                                   ReportObserver* observer, CertificateRenewer* renewer)
    : store_(store),
      writer_(writer),
      hub_(hub),
      clock_(clock),
      limits_(limits),
      observer_(observer),
      renewer_(renewer) {}

grpc::ServerUnaryReactor* AgentServiceImpl::ReportState(grpc::CallbackServerContext* ctx,
                                                        const v1::StateReport* request,
                                                        v1::StateAck* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer peer;
  if (grpc::Status s = Admit(ctx, "ReportState", request->terminal_id(), request->ByteSizeLong(),
                             limits_.max_message_bytes, &peer);
      !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  if (request->devices_size() > limits_.max_devices_per_report) {
    Log()->warn("ReportState from terminal '{}' refused: {} devices exceeds the limit of {}",
                peer.identity.id, request->devices_size(), limits_.max_devices_per_report);
    reactor->Finish(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many devices in one report"));
    return reactor;
  }

  auto state = std::make_shared<TerminalState>(FromProto(*request));
  state->terminal_id = peer.identity.id;
  state->group = peer.group;
  state->last_report_ms = clock_->NowMs();
  SanitizeState(*state);

  Store* store = store_;
  PolicyHub* hub = hub_;
  const int64_t now = state->last_report_ms;
  ReportObserver* observer = observer_;
  std::shared_ptr<std::string> new_cert;
  if (!peer.cert_pem.empty()) {
    std::lock_guard lock(certs_mu_);
    std::string& known = certs_[peer.identity.id];
    if (known != peer.cert_pem) {
      known = peer.cert_pem;
      new_cert = std::make_shared<std::string>(peer.cert_pem);
    }
  }
  writer_->Submit(
      [store, state, new_cert, now]() -> Status {
        if (new_cert) {
          if (Status s = store->PutTerminalCertificate(state->terminal_id, *new_cert, now);
              !s.ok()) {
            return s;
          }
        }
        return store->PutTerminalState(*state);
      },
      [reactor, response, hub, observer, state, now](const Status& s) {
        if (!s) {
          Log()->error("storing report of terminal '{}' failed: {}", state->terminal_id,
                       s.error().message);
          reactor->Finish(ToGrpcStatus(s.error()));
          return;
        }
        // Completions run in commit order, so the observer sees
        // a terminal's reports in the order they were stored.
        if (observer != nullptr) observer->OnReportStored(*state);
        SetMs(now, response->mutable_collector_time());
        response->set_assigned_policy_version(hub->AssignedVersion(state->group));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* AgentServiceImpl::ReportEvents(grpc::CallbackServerContext* ctx,
                                                         const v1::EventBatch* request,
                                                         v1::EventAck* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer peer;
  if (grpc::Status s = Admit(ctx, "ReportEvents", request->terminal_id(), request->ByteSizeLong(),
                             limits_.max_message_bytes, &peer);
      !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  if (request->events_size() > limits_.max_events_per_batch) {
    Log()->warn("ReportEvents from terminal '{}' refused: {} events exceeds the limit of {}",
                peer.identity.id, request->events_size(), limits_.max_events_per_batch);
    reactor->Finish(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many events in one batch"));
    return reactor;
  }
  auto events = std::make_shared<std::vector<Event>>();
  events->reserve(static_cast<std::size_t>(request->events_size()));
  for (const auto& e : request->events()) {
    if (e.seq() == 0) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "event seq must be >= 1"));
      return reactor;
    }
    events->push_back(FromProto(e));
    SanitizeEvent(events->back());
  }

  Store* store = store_;
  auto acked = std::make_shared<uint64_t>(0);
  auto terminal = std::make_shared<std::string>(peer.identity.id);
  const int64_t now = clock_->NowMs();
  writer_->Submit(
      [store, events, acked, terminal, now]() -> Status {
        ReconcileUnlockUses(*store, *terminal, *events);
        if (Status a = AuditTerminalActions(*store, *terminal, *events, now); !a.ok()) return a;
        auto r = events->empty() ? store->AckedThrough(*terminal)
                                 : store->AppendEvents(*terminal, *events, now);
        if (!r.ok()) return r.error();
        *acked = *r;
        return Status::Ok();
      },
      [reactor, response, acked, terminal](const Status& s) {
        if (!s) {
          Log()->error("storing events of terminal '{}' failed: {}", *terminal, s.error().message);
          reactor->Finish(ToGrpcStatus(s.error()));
          return;
        }
        response->set_acked_through_seq(*acked);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerWriteReactor<v1::PolicyBundle>* AgentServiceImpl::WatchPolicy(
    grpc::CallbackServerContext* ctx, const v1::WatchPolicyRequest* request) {
  AuthenticatedPeer peer;
  if (grpc::Status s = Admit(ctx, "WatchPolicy", request->terminal_id(), request->ByteSizeLong(),
                             limits_.max_message_bytes, &peer);
      !s.ok()) {
    // A reactor that refuses at once.
    class Refuse final : public grpc::ServerWriteReactor<v1::PolicyBundle> {
     public:
      explicit Refuse(const grpc::Status& st) { Finish(st); }
      void OnDone() override { delete this; }
    };
    return new Refuse(s);
  }
  return new PolicyWatchReactor(hub_, std::move(peer), request->current_version());
}

grpc::ServerUnaryReactor* AgentServiceImpl::RenewCertificate(
    grpc::CallbackServerContext* ctx, const v1::RenewCertificateRequest* request,
    v1::IssuedCertificate* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer peer;
  if (grpc::Status s = Admit(ctx, "RenewCertificate", "", request->ByteSizeLong(),
                             limits_.max_message_bytes, &peer);
      !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  if (renewer_ == nullptr) {
    Log()->warn("RenewCertificate from terminal '{}' refused: no issuing CA configured",
                peer.identity.id);
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                 "certificate renewal is not configured on this collector "
                                 "(enrollment.issuing_ca_cert_file)"));
    return reactor;
  }
  RenewalCaller caller;
  caller.role = peer.identity.role;
  caller.id = peer.identity.id;
  caller.group = peer.group;
  caller.cert_pem = peer.cert_pem;
  caller.address = peer.address;
  Result<IssuedCredential> issued = renewer_->Renew(caller, request->csr_pem());
  if (!issued) {
    reactor->Finish(ToGrpcStatus(issued.error()));
    return reactor;
  }
  ToProto(*issued, response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace mamori
