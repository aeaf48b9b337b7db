#include "server/exceptions/exception_workflow.h"

#include <algorithm>
#include <charconv>

#include "common/base/hex.h"
#include "common/base/jst_time.h"
#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "common/crypto/identity.h"
#include "common/device/device.h"
#include "proto/wire/convert.h"
#include "server/policy/exception_policy.h"

namespace mamori {
namespace {

constexpr std::size_t kMaxSerialBytes = 256;
constexpr std::size_t kMaxReasonBytes = 512;
constexpr std::size_t kMaxForBytes = 128;
constexpr std::size_t kMaxNoteBytes = 512;
// A block event is looked for among the terminal's latest ones.
constexpr uint32_t kMaxEventsSearched = 5000;

namespace action {
constexpr std::string_view kRequest = "exception.request";
constexpr std::string_view kApprove = "exception.approve";
constexpr std::string_view kRefuse = "exception.refuse";
constexpr std::string_view kCancel = "exception.cancel";
}  // namespace action

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("exceptions");
  return log;
}

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

bool Printable(std::string_view s) { return SanitizeDeviceString(s, s.size()) == s; }

std::string Describe(const ExceptionRequest& r) {
  std::string s = FormatVidPid(r.vendor_id, r.product_id) + " serial '" +
                  SanitizeDeviceString(r.serial, 64) + "' on ";
  s += r.terminal_id.empty() ? "every terminal of group " + r.group : "terminal " + r.terminal_id;
  s += " from " + JstIso8601(r.from_ms) + " until " + JstIso8601(r.until_ms);
  s += " for " + r.requested_for + ": " + r.reason;
  return s;
}

void AddUpdates(const std::vector<PolicyBundle>& versions,
                google::protobuf::RepeatedPtrField<v1::PolicyUpdate>* out) {
  for (const PolicyBundle& b : versions) {
    v1::PolicyUpdate* u = out->Add();
    u->set_group(b.group);
    u->set_version(b.version);
  }
}

// "<terminal>#<seq>".
std::optional<std::pair<std::string, uint64_t>> ParseEventRef(std::string_view ref) {
  const auto hash = ref.rfind('#');
  if (hash == std::string_view::npos || hash == 0) return std::nullopt;
  const std::string_view seq_text = ref.substr(hash + 1);
  uint64_t seq = 0;
  const auto [p, ec] = std::from_chars(seq_text.data(), seq_text.data() + seq_text.size(), seq);
  if (ec != std::errc() || p != seq_text.data() + seq_text.size() || seq == 0) {
    return std::nullopt;
  }
  return std::pair(std::string(ref.substr(0, hash)), seq);
}

}  // namespace

std::string ExceptionViewState(const ExceptionRequest& r, int64_t now_ms) {
  if (r.state != ExceptionRequestState::kApproved) {
    return std::string(ExceptionRequestStateName(r.state));
  }
  if (now_ms >= r.until_ms) return "ended";
  if (now_ms >= r.from_ms) return "active";
  return "approved";
}

void ToProto(const ExceptionRequest& r, int64_t now_ms, v1::DeviceExceptionView* out) {
  out->set_id(static_cast<uint64_t>(r.id));
  out->set_terminal_id(r.terminal_id);
  out->set_group(r.group);
  out->set_vid_pid(FormatVidPid(r.vendor_id, r.product_id));
  out->set_serial(SanitizeDeviceString(r.serial, kMaxSerialBytes));
  SetMs(r.from_ms, out->mutable_from());
  SetMs(r.until_ms, out->mutable_until());
  out->set_reason(r.reason);
  out->set_requested_for(r.requested_for);
  out->set_source_event(r.source_event);
  out->set_requested_by(r.requested_by);
  SetMs(r.requested_at_ms, out->mutable_requested_at());
  out->set_state(ExceptionViewState(r, now_ms));
  out->set_decided_by(r.decided_by);
  if (r.decided_at_ms > 0) SetMs(r.decided_at_ms, out->mutable_decided_at());
  out->set_decision_note(r.decision_note);
}

ExceptionWorkflow::ExceptionWorkflow(Store* store, PolicyHub* hub, AuditTrail* audit,
                                     const Clock* clock, ExceptionSettings settings)
    : store_(store), hub_(hub), audit_(audit), clock_(clock), settings_(settings) {}

Status ExceptionWorkflow::Request(std::string_view actor,
                                  const v1::RequestExceptionRequest& request,
                                  v1::ExceptionChangeResponse* response) {
  const int64_t now = clock_->NowMs();
  ExceptionRequest r;
  auto fail = [&](Error e) -> Status {
    (void)audit_->Record(actor, action::kRequest,
                         request.terminal_id().empty() ? request.group() : request.terminal_id(),
                         e.message, AuditOutcome::kFailed);
    return e;
  };
  r.terminal_id = request.terminal_id();
  // The device: picked from a block event, or typed.
  if (!request.source_event().empty()) {
    const auto ref = ParseEventRef(request.source_event());
    if (!ref) return fail(Invalid("source_event: expected '<terminal>#<seq>'"));
    if (!r.terminal_id.empty() && r.terminal_id != ref->first) {
      return fail(Invalid("source_event: the event is of terminal '" + ref->first +
                          "', not of terminal_id '" + r.terminal_id + "'"));
    }
    if (!request.vid_pid().empty() || !request.serial().empty()) {
      return fail(Invalid("give either source_event or vid_pid and serial, not both"));
    }
    EventQuery q;
    q.terminal_id = ref->first;
    q.limit = kMaxEventsSearched;
    auto events = store_->QueryEvents(q);
    if (!events.ok()) return fail(events.error());
    const StoredEvent* found = nullptr;
    for (const StoredEvent& e : *events) {
      if (e.event.seq == ref->second) found = &e;
    }
    if (found == nullptr) {
      return fail(MakeError(ErrorCode::kNotFound,
                            "source_event: no event " + std::string(request.source_event()) +
                                " among the latest " + std::to_string(kMaxEventsSearched) +
                                " of that terminal"));
    }
    if (!found->event.device || found->event.device->identity.serial.empty()) {
      return fail(Invalid("source_event: event " + request.source_event() +
                          " names no device with a serial; an exception names one device"));
    }
    r.terminal_id = ref->first;
    r.vendor_id = found->event.device->identity.vendor_id;
    r.product_id = found->event.device->identity.product_id;
    r.serial = found->event.device->identity.serial;
    r.source_event = request.source_event();
  } else {
    const auto ids = ParseVidPid(request.vid_pid());
    if (!ids) return fail(Invalid("vid_pid: expected 'vvvv:pppp' (hex)"));
    std::tie(r.vendor_id, r.product_id) = *ids;
    if (request.serial().empty()) {
      return fail(
          Invalid("serial: required; an exception names one device, and a device "
                  "without a serial cannot be told from its twins"));
    }
    if (request.serial().size() > kMaxSerialBytes) return fail(Invalid("serial: too long"));
    r.serial = request.serial();
  }
  if (r.serial.size() > kMaxSerialBytes) return fail(Invalid("serial: too long"));
  // Where: a terminal (its group carries it) or a group.
  if (!r.terminal_id.empty()) {
    if (!request.group().empty()) return fail(Invalid("give either terminal_id or group"));
    auto t = store_->GetTerminal(r.terminal_id);
    if (!t.ok()) return fail(t.error());
    if (!t->has_value()) {
      return fail(MakeError(ErrorCode::kNotFound, "terminal_id: no terminal '" +
                                                      SanitizeDeviceString(r.terminal_id, 128) +
                                                      "' has reported"));
    }
    r.group = (*t)->group;
  } else {
    if (request.group().empty()) return fail(Invalid("terminal_id or group: one is required"));
    if (!IsValidGroup(request.group())) return fail(Invalid("group: not a valid group name"));
    r.group = request.group();
  }
  // When: whole seconds, as the policy carries them.
  if (!request.has_until()) return fail(Invalid("until: required"));
  r.from_ms = (request.has_from() ? ToMs(request.from()) : now) / 1000 * 1000;
  r.until_ms = ToMs(request.until()) / 1000 * 1000;
  if (r.until_ms <= r.from_ms) return fail(Invalid("until: must be after from"));
  if (r.until_ms <= now) return fail(Invalid("until: must be in the future"));
  if (r.until_ms - r.from_ms > settings_.max_window_ms) {
    return fail(Invalid("until: the window is longer than the " +
                        std::to_string(settings_.max_window_ms / 3'600'000) +
                        " hours this collector allows (exceptions.max_window_hours)"));
  }
  if (r.from_ms <= 0) return fail(Invalid("from: must be after 1970"));
  // Why and for whom.
  if (request.reason().empty()) return fail(Invalid("reason: required"));
  if (request.reason().size() > kMaxReasonBytes || !Printable(request.reason())) {
    return fail(Invalid("reason: at most 512 bytes of printable text"));
  }
  if (request.requested_for().empty()) {
    return fail(Invalid("requested_for: required (who will use the device)"));
  }
  if (request.requested_for().size() > kMaxForBytes || !Printable(request.requested_for())) {
    return fail(Invalid("requested_for: at most 128 bytes of printable text"));
  }
  r.reason = request.reason();
  r.requested_for = request.requested_for();
  r.requested_by = std::string(actor);
  r.requested_at_ms = now;

  Status st = store_->WithTransaction([&]() -> Status {
    auto id = store_->AddExceptionRequest(r);
    if (!id.ok()) return id.error();
    r.id = *id;
    return audit_->Record(actor, action::kRequest, ExceptionPolicyId(r.id), Describe(r),
                          AuditOutcome::kOk);
  });
  if (!st.ok()) return fail(st.error());
  ToProto(r, now, response->mutable_exception());
  Log()->info("exception {} requested by {}: {}", ExceptionPolicyId(r.id), actor, Describe(r));
  return Status::Ok();
}

Result<ExceptionRequest> ExceptionWorkflow::Find(std::string_view actor, std::string_view act,
                                                 uint64_t id) {
  const std::string target = ExceptionPolicyId(static_cast<int64_t>(id));
  auto r = store_->GetExceptionRequest(static_cast<int64_t>(id));
  if (!r.ok()) return r.error();
  if (!r->has_value()) {
    Error e = MakeError(ErrorCode::kNotFound, "no exception request " + target);
    (void)audit_->Record(actor, act, target, e.message, AuditOutcome::kFailed);
    return e;
  }
  return std::move(**r);
}

Status ExceptionWorkflow::Decide(std::string_view actor, std::string_view act,
                                 const ExceptionRequest& current,
                                 const std::vector<ExceptionRequestState>& from,
                                 ExceptionRequestState to, std::string_view note,
                                 bool changes_policy, v1::ExceptionChangeResponse* response) {
  const std::string target = ExceptionPolicyId(current.id);
  const int64_t now = clock_->NowMs();
  const auto change = [&]() -> Status {
    if (Status s = store_->DecideExceptionRequest(current.id, from, to, actor, now, note);
        !s.ok()) {
      return s;
    }
    std::string detail = Describe(current);
    if (!note.empty()) detail += "; note: " + std::string(note);
    return audit_->Record(actor, act, target, detail, AuditOutcome::kOk);
  };
  std::vector<PolicyBundle> versions;
  if (changes_policy) {
    auto v = hub_->ApplyExceptionChange(change, std::string(act) + " by " + std::string(actor));
    if (!v.ok()) {
      (void)audit_->Record(actor, act, target, v.error().message, AuditOutcome::kFailed);
      return v.error();
    }
    versions = std::move(*v);
  } else if (Status s = store_->WithTransaction(change); !s.ok()) {
    (void)audit_->Record(actor, act, target, s.error().message, AuditOutcome::kFailed);
    return s;
  }
  auto after = store_->GetExceptionRequest(current.id);
  if (!after.ok()) return after.error();
  if (after->has_value()) ToProto(**after, now, response->mutable_exception());
  AddUpdates(versions, response->mutable_policies());
  if (changes_policy && to == ExceptionRequestState::kApproved && versions.empty()) {
    response->add_warnings(
        hub_->PolicyGroups().empty()
            ? "no group has a policy yet: agents enforce the built-in default until one is "
              "applied; the exception is merged into every policy applied within its scope"
            : "no policy reaches group " + current.group +
                  ": the exception takes effect once a policy is applied to it or (for a "
                  "terminal) to one of its ancestors");
  }
  Log()->info("{} {} by {}; {} policy version(s) stored", act, target, actor, versions.size());
  return Status::Ok();
}

Status ExceptionWorkflow::Approve(std::string_view actor, const v1::DecideExceptionRequest& request,
                                  v1::ExceptionChangeResponse* response) {
  auto r = Find(actor, action::kApprove, request.id());
  if (!r.ok()) return r.error();
  const std::string target = ExceptionPolicyId(r->id);
  auto deny = [&](Error e) -> Status {
    (void)audit_->Record(
        actor, action::kApprove, target, e.message,
        e.code == ErrorCode::kPermissionDenied ? AuditOutcome::kDenied : AuditOutcome::kFailed);
    return e;
  };
  if (request.note().size() > kMaxNoteBytes) return deny(Invalid("note: at most 512 bytes"));
  if (settings_.two_person_rule && r->requested_by == actor) {
    return deny(MakeError(ErrorCode::kPermissionDenied,
                          target + " was requested by " + r->requested_by +
                              "; under the two-person rule another admin approves it"));
  }
  if (r->until_ms <= clock_->NowMs()) {
    return deny(MakeError(ErrorCode::kFailedPrecondition,
                          target + ": its window ended at " + JstIso8601(r->until_ms)));
  }
  return Decide(actor, action::kApprove, *r, {ExceptionRequestState::kRequested},
                ExceptionRequestState::kApproved, request.note(), /*changes_policy=*/true,
                response);
}

Status ExceptionWorkflow::Refuse(std::string_view actor, const v1::DecideExceptionRequest& request,
                                 v1::ExceptionChangeResponse* response) {
  auto r = Find(actor, action::kRefuse, request.id());
  if (!r.ok()) return r.error();
  if (request.note().empty() || request.note().size() > kMaxNoteBytes) {
    Error e = Invalid("note: required (why it is refused), at most 512 bytes");
    (void)audit_->Record(actor, action::kRefuse, ExceptionPolicyId(r->id), e.message,
                         AuditOutcome::kFailed);
    return e;
  }
  return Decide(actor, action::kRefuse, *r, {ExceptionRequestState::kRequested},
                ExceptionRequestState::kRefused, request.note(), /*changes_policy=*/false,
                response);
}

Status ExceptionWorkflow::Cancel(std::string_view actor, bool may_cancel_others,
                                 const v1::DecideExceptionRequest& request,
                                 v1::ExceptionChangeResponse* response) {
  auto r = Find(actor, action::kCancel, request.id());
  if (!r.ok()) return r.error();
  const std::string target = ExceptionPolicyId(r->id);
  if (!may_cancel_others && r->requested_by != actor) {
    Error e =
        MakeError(ErrorCode::kPermissionDenied, target + " was requested by " + r->requested_by +
                                                    "; only its requester or an admin cancels it");
    (void)audit_->Record(actor, action::kCancel, target, e.message, AuditOutcome::kDenied);
    return e;
  }
  if (request.note().empty() || request.note().size() > kMaxNoteBytes) {
    Error e = Invalid("note: required (why it is cancelled), at most 512 bytes");
    (void)audit_->Record(actor, action::kCancel, target, e.message, AuditOutcome::kFailed);
    return e;
  }
  // An approved exception leaves the policies; a waiting request was never
  // in them.
  const bool was_approved = r->state == ExceptionRequestState::kApproved;
  return Decide(actor, action::kCancel, *r,
                {ExceptionRequestState::kRequested, ExceptionRequestState::kApproved},
                ExceptionRequestState::kCancelled, request.note(), was_approved, response);
}

Status ExceptionWorkflow::List(const v1::ListExceptionsRequest& request,
                               v1::ListExceptionsResponse* response) const {
  auto all = store_->ListExceptionRequests();
  if (!all.ok()) return all.error();
  std::string terminal_group;
  if (!request.terminal_id().empty()) {
    auto t = store_->GetTerminal(request.terminal_id());
    if (!t.ok()) return t.error();
    if (t->has_value()) terminal_group = (*t)->group;
  }
  const int64_t now = clock_->NowMs();
  for (const ExceptionRequest& r : *all) {
    if (!request.terminal_id().empty()) {
      const bool mine = r.terminal_id == request.terminal_id() ||
                        (r.terminal_id.empty() && !terminal_group.empty() &&
                         GroupContains(r.group, terminal_group));
      if (!mine) continue;
    }
    const std::string state = ExceptionViewState(r, now);
    if (request.states_size() > 0 && std::find(request.states().begin(), request.states().end(),
                                               state) == request.states().end()) {
      continue;
    }
    ToProto(r, now, response->add_exceptions());
  }
  return Status::Ok();
}

}  // namespace mamori
