#include "server/audit/audit_trail.h"

#include <algorithm>

#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "proto/wire/convert.h"

namespace mamori {
namespace {

constexpr std::size_t kMaxShortBytes = 256;
constexpr std::size_t kMaxDetailBytes = 1024;
constexpr uint32_t kDefaultLimit = 100;
constexpr uint32_t kMaxLimit = 1000;

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("audit");
  return log;
}

std::string Clean(std::string_view text, std::size_t max_bytes) {
  return NeedsSanitizing(text, max_bytes) ? SanitizeDeviceString(text, max_bytes)
                                          : std::string(text);
}

}  // namespace

std::string_view AuditOutcomeName(AuditOutcome outcome) {
  switch (outcome) {
    case AuditOutcome::kOk:
      return "ok";
    case AuditOutcome::kDenied:
      return "denied";
    case AuditOutcome::kFailed:
      break;
  }
  return "failed";
}

std::string WebActor(std::string_view user) { return "web:" + std::string(user); }
std::string CertActor(std::string_view identity_uri) { return "cert:" + std::string(identity_uri); }

StoreAuditTrail::StoreAuditTrail(AuditRepository* store, const Clock* clock)
    : store_(store), clock_(clock) {}

Status StoreAuditTrail::Record(std::string_view actor, std::string_view action,
                               std::string_view target, std::string_view detail,
                               AuditOutcome outcome) {
  AuditRecord r;
  r.at_ms = clock_->NowMs();
  r.actor = Clean(actor, kMaxShortBytes);
  r.action = Clean(action, kMaxShortBytes);
  r.target = Clean(target, kMaxShortBytes);
  r.detail = Clean(detail, kMaxDetailBytes);
  r.outcome = std::string(AuditOutcomeName(outcome));
  Result<int64_t> id = store_->AppendAudit(r);
  if (!id.ok()) {
    Log()->error("cannot record {} by {} on '{}' ({}): {}", r.action, r.actor, r.target, r.outcome,
                 id.error().message);
    return id.error();
  }
  Log()->info("#{} {} {} '{}' {}{}{}", *id, r.actor, r.action, r.target, r.outcome,
              r.detail.empty() ? "" : ": ", r.detail);
  return Status::Ok();
}

Status StoreAuditTrail::Query(const v1::QueryAuditRequest& request,
                              v1::QueryAuditResponse* response) const {
  AuditQuery q;
  q.actor = request.actor();
  q.action = request.action();
  if (request.has_since()) q.since_ms = ToMs(request.since());
  if (request.has_until()) q.until_ms = ToMs(request.until());
  if (request.before_id() > static_cast<uint64_t>(INT64_MAX)) {
    return MakeError(ErrorCode::kInvalidArgument, "before_id is out of range");
  }
  q.before_id = static_cast<int64_t>(request.before_id());
  q.limit = request.limit() == 0 ? kDefaultLimit : std::min(request.limit(), kMaxLimit);
  auto rows = store_->QueryAudit(q);
  if (!rows.ok()) return rows.error();
  for (const AuditRecord& r : *rows) {
    v1::AuditEntry* e = response->add_entries();
    e->set_id(static_cast<uint64_t>(r.id));
    SetMs(r.at_ms, e->mutable_at());
    e->set_actor(r.actor);
    e->set_action(r.action);
    e->set_target(r.target);
    e->set_detail(r.detail);
    e->set_outcome(r.outcome);
  }
  if (rows->size() == q.limit && !rows->empty()) {
    response->set_next_before_id(static_cast<uint64_t>(rows->back().id));
  }
  return Status::Ok();
}

}  // namespace mamori
