#include "server/ingest/agent_service.h"

#include <algorithm>

#include "common/base/jst_time.h"
#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "common/policy/unlock_code.h"
#include "proto/wire/convert.h"
#include "server/ingest/report_sanitizer.h"
#include "server/ingest/report_validator.h"
#include "server/tls/peer_auth.h"
#include "server/tls/revocation_check.h"

namespace mamori {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("agent-service");
  return log;
}

// Authenticates a terminal and checks the optional id in the body and the
// message size. Returns OK or the status to refuse the call with (logged).
grpc::Status Admit(grpc::CallbackServerContext* ctx, std::string_view method,
                   const RevocationList* revocations, std::string_view body_terminal_id,
                   std::size_t message_bytes, int64_t max_bytes, AuthenticatedPeer* out) {
  auto peer = IdentifyPeer(ctx->auth_context().get(), ctx->peer());
  if (grpc::Status s = RequireRole(peer, PeerRole::kTerminal); !s.ok()) {
    Log()->warn("{} from {} refused: {}", method, ctx->peer(), s.error_message());
    return s;
  }
  if (grpc::Status s = CheckNotRevoked(revocations, *peer); !s.ok()) {
    Log()->warn("{} from {} refused: {}", method, ctx->peer(), s.error_message());
    return s;
  }
  if (!body_terminal_id.empty() && body_terminal_id != peer->identity.id) {
    Log()->warn(
        "{} from {} refused: certificate of terminal '{}' sent a message claiming terminal '{}'",
        method, ctx->peer(), peer->identity.id, SanitizeDeviceString(body_terminal_id, 128));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "message names terminal '" + SanitizeDeviceString(body_terminal_id, 128) +
                            "' but the certificate is for '" + peer->identity.id + "'");
  }
  if (static_cast<int64_t>(message_bytes) > max_bytes) {
    Log()->warn("{} from terminal '{}' at {} refused: message of {} bytes exceeds the limit of {}",
                method, peer->identity.id, ctx->peer(), message_bytes, max_bytes);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "message of " + std::to_string(message_bytes) +
                            " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  *out = std::move(peer).value();
  return grpc::Status::OK;
}

// Refuses a call whose content is outside the collector's bounds: logged
// with the terminal and its address, answered with the field and the bound.
grpc::Status Refuse(std::string_view method, const AuthenticatedPeer& peer, const Error& e) {
  Log()->warn("{} from terminal '{}' at {} refused: {}", method, peer.identity.id, peer.address,
              e.message);
  return ToGrpcStatus(e);
}

// Streams the policy in force for one terminal's group: the current bundle
// if newer than what the agent has, then every change. One write in flight;
// a change that arrives during a write is sent when it completes.
class PolicyWatchReactor final : public grpc::ServerWriteReactor<v1::PolicyBundle>,
                                 public PolicyStreamRegistry::Stream {
 public:
  PolicyWatchReactor(PolicyHub* hub, PolicyStreamRegistry* registry,
                     const RevocationList* revocations, AuthenticatedPeer peer,
                     uint64_t current_version)
      : hub_(hub), registry_(registry), peer_(std::move(peer)), sent_version_(current_version) {
    registry_->Add(peer_.identity.id, peer_.address, this);
    // Register before reading the current policy so a change in between is
    // not missed; Offer ignores versions already sent.
    watch_id_ = hub_->AddWatcher(
        peer_.group, peer_.identity.id, [this](const ResolvedPolicy& r) { Offer(r); },
        [this](const Error& why) {
          std::lock_guard lock(mu_);
          FinishLocked(ToGrpcStatus(why));
        });
    // A revocation that committed after this call was admitted but before
    // the watch was registered did not see the watch: look again. (The
    // list changes before the hub ends a terminal's watches.)
    if (grpc::Status s = CheckNotRevoked(revocations, peer_); !s.ok()) {
      std::lock_guard lock(mu_);
      FinishLocked(s);
      return;
    }
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
    registry_->Remove(peer_.identity.id, this);
    delete this;
  }

  void Close(const grpc::Status& status) override {
    std::lock_guard lock(mu_);
    FinishLocked(status);
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
  PolicyStreamRegistry* registry_;
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
                                   ReportObserver* observer, CertificateRenewer* renewer,
                                   const RevocationList* revocations)
    : store_(store),
      writer_(writer),
      hub_(hub),
      clock_(clock),
      limits_(limits),
      observer_(observer),
      renewer_(renewer),
      revocations_(revocations),
      streams_(kMaxPolicyStreamsPerTerminal) {}

grpc::ServerUnaryReactor* AgentServiceImpl::ReportState(grpc::CallbackServerContext* ctx,
                                                        const v1::StateReport* request,
                                                        v1::StateAck* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer peer;
  if (grpc::Status s = Admit(ctx, "ReportState", revocations_, request->terminal_id(),
                             request->ByteSizeLong(), limits_.max_message_bytes, &peer);
      !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  if (Status v = ValidateStateReport(*request, limits_, hub_->LatestVersion()); !v.ok()) {
    reactor->Finish(Refuse("ReportState", peer, v.error()));
    return reactor;
  }
  const int64_t now = clock_->NowMs();
  Store* store = store_;
  ReportObserver* observer = observer_;
  if (request->has_agent_time()) {
    const int64_t agent_time = ToMs(request->agent_time());
    if (Status c = CheckAgentClock(agent_time, now); !c.ok()) {
      // Refused, and recorded: the terminal fails the clock check with this
      // refusal as evidence instead of hiding its clock by being refused.
      grpc::Status refusal = Refuse("ReportState", peer, c.error());
      auto stored = std::make_shared<std::optional<TerminalState>>();
      auto terminal = std::make_shared<std::string>(peer.identity.id);
      writer_->Submit(
          [store, stored, terminal, group = peer.group, agent_time, now]() -> Status {
            if (Status r = store->RecordClockRefusal(*terminal, group, agent_time, now); !r.ok()) {
              return r;
            }
            auto got = store->GetTerminal(*terminal);
            if (!got.ok()) return got.error();
            *stored = std::move(*got);
            return Status::Ok();
          },
          [reactor, refusal, stored, terminal, observer](const Status& s) {
            if (!s) {
              Log()->error("recording the clock refusal of terminal '{}' failed: {}", *terminal,
                           s.error().message);
            } else if (observer != nullptr && stored->has_value()) {
              observer->OnReportStored(**stored);
            }
            reactor->Finish(refusal);
          },
          peer.identity.id);
      return reactor;
    }
  }

  auto state = std::make_shared<TerminalState>(FromProto(*request));
  state->terminal_id = peer.identity.id;
  state->group = peer.group;
  state->last_report_ms = now;
  SanitizeState(*state);

  PolicyHub* hub = hub_;
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
      },
      peer.identity.id);
  return reactor;
}

grpc::ServerUnaryReactor* AgentServiceImpl::ReportEvents(grpc::CallbackServerContext* ctx,
                                                         const v1::EventBatch* request,
                                                         v1::EventAck* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer peer;
  if (grpc::Status s = Admit(ctx, "ReportEvents", revocations_, request->terminal_id(),
                             request->ByteSizeLong(), limits_.max_message_bytes, &peer);
      !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  const int64_t now = clock_->NowMs();
  if (Status v = ValidateEventBatch(*request, limits_, now); !v.ok()) {
    reactor->Finish(Refuse("ReportEvents", peer, v.error()));
    return reactor;
  }
  auto events = std::make_shared<std::vector<Event>>();
  events->reserve(static_cast<std::size_t>(request->events_size()));
  for (const auto& e : request->events()) {
    events->push_back(FromProto(e));
    SanitizeEvent(events->back());
  }

  Store* store = store_;
  auto acked = std::make_shared<uint64_t>(0);
  auto terminal = std::make_shared<std::string>(peer.identity.id);
  // Strictly increasing (validated): the last is the highest.
  const uint64_t highest = events->empty() ? 0 : events->back().seq;
  auto refused = std::make_shared<bool>(false);
  writer_->Submit(
      [store, events, acked, terminal, now, highest, refused]() -> Status {
        // The window against what is stored is checked before anything of
        // the batch is written; the store has the acknowledged seq.
        if (highest != 0) {
          Result<uint64_t> stored = store->AckedThrough(*terminal);
          if (!stored.ok()) return stored.error();
          if (Status w = CheckSeqWindow(highest, *stored); !w.ok()) {
            *refused = true;
            return w;
          }
        }
        ReconcileUnlockUses(*store, *terminal, *events);
        if (Status a = AuditTerminalActions(*store, *terminal, *events, now); !a.ok()) return a;
        auto r = events->empty() ? store->AckedThrough(*terminal)
                                 : store->AppendEvents(*terminal, *events, now);
        if (!r.ok()) return r.error();
        *acked = *r;
        return Status::Ok();
      },
      [reactor, response, acked, peer, refused](const Status& s) {
        if (!s) {
          if (*refused) {
            reactor->Finish(Refuse("ReportEvents", peer, s.error()));
            return;
          }
          Log()->error("storing events of terminal '{}' failed: {}", peer.identity.id,
                       s.error().message);
          reactor->Finish(ToGrpcStatus(s.error()));
          return;
        }
        response->set_acked_through_seq(*acked);
        reactor->Finish(grpc::Status::OK);
      },
      peer.identity.id);
  return reactor;
}

grpc::ServerWriteReactor<v1::PolicyBundle>* AgentServiceImpl::WatchPolicy(
    grpc::CallbackServerContext* ctx, const v1::WatchPolicyRequest* request) {
  // A reactor that refuses at once.
  class Refused final : public grpc::ServerWriteReactor<v1::PolicyBundle> {
   public:
    explicit Refused(const grpc::Status& st) { Finish(st); }
    void OnDone() override { delete this; }
  };
  AuthenticatedPeer peer;
  if (grpc::Status s = Admit(ctx, "WatchPolicy", revocations_, request->terminal_id(),
                             request->ByteSizeLong(), limits_.max_message_bytes, &peer);
      !s.ok()) {
    return new Refused(s);
  }
  if (Status v = ValidateWatchRequest(*request, hub_->LatestVersion()); !v.ok()) {
    return new Refused(Refuse("WatchPolicy", peer, v.error()));
  }
  return new PolicyWatchReactor(hub_, &streams_, revocations_, std::move(peer),
                                request->current_version());
}

std::size_t AgentServiceImpl::PolicyStreams(std::string_view terminal) const {
  return streams_.Count(terminal);
}

grpc::ServerUnaryReactor* AgentServiceImpl::RenewCertificate(
    grpc::CallbackServerContext* ctx, const v1::RenewCertificateRequest* request,
    v1::IssuedCertificate* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer peer;
  if (grpc::Status s = Admit(ctx, "RenewCertificate", revocations_, "", request->ByteSizeLong(),
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
