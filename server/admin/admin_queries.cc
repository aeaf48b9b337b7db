#include "server/admin/admin_queries.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "common/base/jst_time.h"
#include "common/base/logging.h"
#include "common/crypto/identity.h"
#include "common/policy/policy.h"
#include "common/policy/policy_parser.h"
#include "common/policy/rule_engine.h"
#include "proto/wire/admin_views.h"
#include "proto/wire/convert.h"
#include "server/compliance/compliance_wire.h"
#include "server/policy/policy_dry_run.h"
#include "server/policy/text_diff.h"

namespace mamori {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("admin-queries");
  return log;
}

constexpr uint32_t kDefaultEventPage = 100;
constexpr uint32_t kMaxEventPage = 10000;
constexpr std::size_t kMaxSearchBytes = 200;
constexpr uint32_t kDefaultTrendDays = 30;
constexpr std::size_t kMaxTerminalSearchBytes = 64;
constexpr uint32_t kMaxTrendDays = 366;

std::string_view Parent(std::string_view group) {
  const std::size_t slash = group.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : group.substr(0, slash);
}

// "<time_ms>:<seq>:<terminal_id>" of the last event of a page.
std::string FormatCursor(const StoredEvent& e) {
  return std::to_string(e.event.time_ms) + ":" + std::to_string(e.event.seq) + ":" + e.terminal_id;
}

Result<EventPosition> ParseCursor(std::string_view text) {
  const Error bad =
      MakeError(ErrorCode::kInvalidArgument, "cursor must be the next_cursor of an earlier page");
  const std::size_t a = text.find(':');
  if (a == std::string_view::npos) return bad;
  const std::size_t b = text.find(':', a + 1);
  if (b == std::string_view::npos || b + 1 >= text.size()) return bad;
  EventPosition p;
  const auto t = std::from_chars(text.data(), text.data() + a, p.time_ms);
  const auto q = std::from_chars(text.data() + a + 1, text.data() + b, p.seq);
  if (t.ec != std::errc() || t.ptr != text.data() + a || q.ec != std::errc() ||
      q.ptr != text.data() + b) {
    return bad;
  }
  p.terminal_id = std::string(text.substr(b + 1));
  return p;
}

// The version assigned to a group at a given time, from the policy history
// of the group and its ancestors (read once per group).
class PolicyTimeline {
 public:
  explicit PolicyTimeline(Store* store) : store_(store) {}

  uint64_t VersionAt(std::string_view group, int64_t time_ms) {
    std::string_view g = group;
    while (true) {
      // The nearest group with a version applied by then governs, as in
      // PolicyHub::Resolve.
      uint64_t best = 0;
      int64_t best_at = 0;
      for (const auto& [version, at] : History(g)) {
        if (at <= time_ms && (best == 0 || at >= best_at)) {
          best = version;
          best_at = at;
        }
      }
      if (best != 0) return best;
      if (g.empty()) return 0;
      g = Parent(g);
    }
  }

 private:
  const std::vector<std::pair<uint64_t, int64_t>>& History(std::string_view group) {
    auto it = cache_.find(group);
    if (it != cache_.end()) return it->second;
    std::vector<std::pair<uint64_t, int64_t>> versions;
    if (auto h = store_->PolicyHistory(group); h.ok()) {
      for (const PolicyBundle& p : *h) versions.emplace_back(p.version, p.applied_at_ms);
    }
    return cache_.emplace(std::string(group), std::move(versions)).first->second;
  }

  Store* store_;
  std::map<std::string, std::vector<std::pair<uint64_t, int64_t>>, std::less<>> cache_;
};

void ToProto(const PolicyDryRun& run, v1::PolicyDryRun* out) {
  if (run.current) {
    out->set_current_version(run.current->stored.version);
    out->set_current_group(run.current->stored.group);
    out->set_current_inherited(run.current->inherited);
  }
  out->set_policy_name(run.new_policy_name);
  out->set_diff(run.diff.text);
  out->set_diff_whole_replacement(run.diff.whole_replacement);
  for (const DecisionChange& c : run.changes) {
    auto* change = out->add_changes();
    change->set_terminal_id(c.terminal_id);
    change->set_group(c.terminal_group);
    ToView(c.device, change->mutable_device());
    ToProto(c.old_decision, change->mutable_old_decision());
    ToProto(c.new_decision, change->mutable_new_decision());
  }
  out->set_terminals_examined(run.terminals_examined);
  out->set_devices_examined(run.devices_examined);
}

// First non-blank line of a policy document, cut to at most `max_bytes` on
// a UTF-8 character boundary (the document is valid UTF-8: it arrived as a
// protobuf string).
std::string FirstLine(std::string_view yaml, std::size_t max_bytes) {
  while (!yaml.empty()) {
    const std::size_t nl = yaml.find('\n');
    std::string_view line = yaml.substr(0, nl);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!line.empty()) {
      if (line.size() > max_bytes) {
        std::size_t cut = max_bytes;
        while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
        line = line.substr(0, cut);
      }
      return std::string(line);
    }
    if (nl == std::string_view::npos) break;
    yaml.remove_prefix(nl + 1);
  }
  return "";
}

}  // namespace

AdminQueries::AdminQueries(Store* store, PolicyHub* hub, const Clock* clock,
                           ComplianceConfig config, const ComplianceIndex* index, AuditTrail* audit,
                           const TerminalStandings* standings)
    : store_(store),
      hub_(hub),
      clock_(clock),
      config_(config),
      index_(index),
      audit_(audit),
      standings_(standings) {}

Result<const ComplianceIndex*> AdminQueries::IndexFor(
    std::string_view group, std::unique_ptr<ComplianceIndex>* loaded) const {
  if (index_ != nullptr) return index_;
  *loaded = std::make_unique<ComplianceIndex>(ComplianceIndex::AssignedBy(hub_), clock_, config_,
                                              standings_);
  if (Status s = (*loaded)->Load(store_, group); !s.ok()) return s.error();
  return loaded->get();
}

AdminQueries::Evaluated AdminQueries::Evaluate(TerminalState state, int64_t now) const {
  Evaluated e;
  const PolicyHub::Assigned assigned = hub_->AssignedTo(state.group);
  e.assigned_version = assigned.version;
  StandingInfo standing;
  if (standings_ != nullptr) standing = standings_->StandingOf(state.terminal_id);
  e.standing = standing.standing;
  e.compliance =
      EvaluateCompliance(state, assigned.policy.get(), assigned.version, now, config_, &standing);
  e.state = std::move(state);
  return e;
}

void AdminQueries::FillSummary(const Evaluated& e, v1::TerminalSummary* out) const {
  out->set_terminal_id(e.state.terminal_id);
  out->set_group(e.state.group);
  out->set_hostname(e.state.hostname);
  out->set_status(ToProto(e.compliance.status));
  for (const auto& name : e.compliance.FailingChecks()) out->add_failing_checks(name);
  if (e.state.last_report_ms != 0) SetMs(e.state.last_report_ms, out->mutable_last_report());
  out->set_applied_policy_version(e.state.applied_policy_version);
  out->set_assigned_policy_version(e.assigned_version);
  out->set_standing(ToProto(e.standing));
}

Status AdminQueries::ListTerminals(const v1::ListTerminalsRequest& request,
                                   v1::ListTerminalsResponse* response) const {
  TerminalFilter filter;
  filter.group = request.group();
  switch (request.status()) {
    case v1::COMPLIANCE_STATUS_COMPLIANT:
      filter.status = ComplianceStatus::kCompliant;
      break;
    case v1::COMPLIANCE_STATUS_NON_COMPLIANT:
      filter.status = ComplianceStatus::kNonCompliant;
      break;
    case v1::COMPLIANCE_STATUS_UNKNOWN:
      filter.status = ComplianceStatus::kUnknown;
      break;
    default:
      break;
  }
  if (!request.failing_check().empty()) {
    filter.failing_check = CheckPosition(request.failing_check());
    if (!filter.failing_check) {
      std::string names;
      for (std::string_view n : kCheckNames) names += (names.empty() ? "" : ", ") + std::string(n);
      return MakeError(ErrorCode::kInvalidArgument,
                       "failing_check must be one of " + names + ", not '" +
                           request.failing_check().substr(0, 64) + "'");
    }
  }
  if (request.search().size() > kMaxTerminalSearchBytes) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "search text is longer than " + std::to_string(kMaxTerminalSearchBytes) + " bytes");
  }
  for (char c : request.search()) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return MakeError(ErrorCode::kInvalidArgument, "search text has a control character");
    }
    filter.search.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  switch (request.standing()) {
    case v1::TERMINAL_STANDING_ACTIVE:
      filter.standing = TerminalStanding::kActive;
      break;
    case v1::TERMINAL_STANDING_REVOKED:
      filter.standing = TerminalStanding::kRevoked;
      break;
    case v1::TERMINAL_STANDING_RETIRED:
      filter.standing = TerminalStanding::kRetired;
      break;
    default:
      break;
  }
  filter.offset = request.offset();
  filter.limit = request.limit() == 0 ? 1000 : std::min<uint32_t>(request.limit(), 10000);

  std::unique_ptr<ComplianceIndex> loaded;
  Result<const ComplianceIndex*> index = IndexFor(request.group(), &loaded);
  if (!index.ok()) return index.error();
  TerminalPage page = (*index)->List(filter);
  for (TerminalRow& row : page.rows) {
    v1::TerminalSummary* out = response->add_terminals();
    out->set_terminal_id(std::move(row.terminal_id));
    out->set_group(std::move(row.group));
    out->set_hostname(std::move(row.hostname));
    out->set_status(ToProto(row.status));
    for (std::string& name : row.failing_checks) out->add_failing_checks(std::move(name));
    if (row.last_report_ms != 0) SetMs(row.last_report_ms, out->mutable_last_report());
    out->set_applied_policy_version(row.applied_policy_version);
    out->set_assigned_policy_version(row.assigned_policy_version);
    out->set_standing(ToProto(row.standing));
  }
  response->set_total(page.total);
  response->set_offset(request.offset());
  return Status::Ok();
}

Status AdminQueries::GetTerminal(const v1::GetTerminalRequest& request,
                                 v1::TerminalDetail* response) const {
  auto found = store_->GetTerminal(request.terminal_id());
  if (!found.ok()) return found.error();
  if (!found->has_value()) {
    return MakeError(ErrorCode::kNotFound,
                     "no terminal '" + request.terminal_id() + "' has reported");
  }
  Evaluated e = Evaluate(std::move(**found), clock_->NowMs());
  FillSummary(e, response->mutable_summary());
  for (const auto& c : e.compliance.checks) ToProto(c, response->add_checks());
  for (const auto& d : e.state.devices) ToView(d, response->add_devices());
  response->set_os(e.state.os);
  response->set_agent_version(e.state.agent_version);
  ToProto(e.state.enforcement, response->mutable_enforcement());
  if (e.state.agent_time_ms != 0) SetMs(e.state.agent_time_ms, response->mutable_agent_time());
  EventQuery q;
  q.terminal_id = e.state.terminal_id;
  q.limit = 20;
  if (auto events = store_->QueryEvents(q); events.ok()) {
    for (const auto& ev : *events) ToView(ev, response->add_recent_events());
  }
  return Status::Ok();
}

Status AdminQueries::GroupSummaries(const v1::GroupSummariesRequest& request,
                                    v1::GroupSummariesResponse* response) const {
  std::unique_ptr<ComplianceIndex> loaded;
  Result<const ComplianceIndex*> index = IndexFor(request.group(), &loaded);
  if (!index.ok()) return index.error();
  for (const GroupCounts& g : (*index)->Summaries(request.group())) {
    auto* out = response->add_groups();
    out->set_group(g.group);
    out->set_terminals(g.terminals);
    out->set_compliant(g.compliant);
    out->set_non_compliant(g.non_compliant);
    out->set_unknown(g.unknown);
    out->set_stale(g.stale);
    out->set_revoked(g.revoked);
  }
  return Status::Ok();
}

Status AdminQueries::QueryEvents(const v1::QueryEventsRequest& request,
                                 v1::QueryEventsResponse* response) const {
  EventQuery q;
  q.terminal_id = request.terminal_id();
  q.group = request.group();
  for (int k : request.kinds()) {
    if (!v1::EventKind_IsValid(k) || k == v1::EVENT_KIND_UNSPECIFIED) {
      return MakeError(ErrorCode::kInvalidArgument, "unknown event kind " + std::to_string(k));
    }
    q.kinds.push_back(FromProto(static_cast<v1::EventKind>(k)));
  }
  if (request.has_since()) q.since_ms = ToMs(request.since());
  if (request.has_until()) q.until_ms = ToMs(request.until());
  if (request.text().size() > kMaxSearchBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "search text is longer than " + std::to_string(kMaxSearchBytes) + " bytes");
  }
  q.text = request.text();
  if (!request.cursor().empty()) {
    auto after = ParseCursor(request.cursor());
    if (!after.ok()) return after.error();
    q.after = std::move(after).value();
  }
  q.limit = request.limit() == 0 ? kDefaultEventPage : std::min(request.limit(), kMaxEventPage);
  auto events = store_->QueryEvents(q);
  if (!events.ok()) return events.error();
  PolicyTimeline timeline(store_);
  for (const StoredEvent& e : *events) {
    v1::EventView* view = response->add_events();
    ToView(e, view);
    view->set_group(e.terminal_group);
    view->set_policy_version(timeline.VersionAt(e.terminal_group, e.event.time_ms));
  }
  if (!events->empty() && events->size() == q.limit) {
    response->set_next_cursor(FormatCursor(events->back()));
  }
  return Status::Ok();
}

Status AdminQueries::GetPolicy(const v1::GetPolicyRequest& request,
                               v1::GetPolicyResponse* response) const {
  std::optional<PolicyBundle> stored;
  bool inherited = false;
  if (request.version() != 0) {
    auto r = store_->GetPolicy(request.group(), request.version());
    if (!r.ok()) return r.error();
    if (!r->has_value()) {
      return MakeError(ErrorCode::kNotFound, "group '" + request.group() +
                                                 "' has no policy version " +
                                                 std::to_string(request.version()));
    }
    stored = **r;
  } else if (auto r = hub_->Resolve(request.group())) {
    stored = r->stored;
    inherited = r->inherited;
  }
  if (stored) {
    ToProto(*stored, response->mutable_bundle());
    response->set_inherited(inherited);
  }
  return Status::Ok();
}

Status AdminQueries::PolicyHistory(const v1::PolicyHistoryRequest& request,
                                   v1::PolicyHistoryResponse* response) const {
  if (!IsValidGroup(request.group())) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid group '" + request.group() + "'");
  }
  const uint32_t limit = request.limit() == 0 ? 50 : std::min<uint32_t>(request.limit(), 1000);
  auto versions = store_->RecentPolicyVersions(request.group(), limit);
  if (!versions.ok()) return versions.error();
  for (const PolicyBundle& p : *versions) {
    auto* e = response->add_entries();
    e->set_version(p.version);
    e->set_group(p.group);
    e->set_applied_by(p.applied_by);
    SetMs(p.applied_at_ms, e->mutable_applied_at());
    // Every stored version passed validation; a name only fails to come out
    // of a tampered store, and the history is still worth showing then.
    if (auto parsed = ParsePolicy(p.policy_yaml, "stored policy"); parsed.ok()) {
      e->set_policy_name(parsed->name);
    }
    e->set_yaml_bytes(p.policy_yaml.size());
    e->set_first_line(FirstLine(p.policy_yaml, 120));
  }
  return Status::Ok();
}

Status AdminQueries::PolicyDiff(const v1::PolicyDiffRequest& request,
                                v1::PolicyDiffResponse* response) const {
  if (!IsValidGroup(request.group())) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid group '" + request.group() + "'");
  }
  auto history = store_->PolicyHistory(request.group());  // oldest first
  if (!history.ok()) return history.error();
  const auto find = [&](uint64_t version) -> const PolicyBundle* {
    for (const PolicyBundle& p : *history) {
      if (p.version == version) return &p;
    }
    return nullptr;
  };
  const PolicyBundle* to = nullptr;
  if (request.to_version() == 0) {
    if (!history->empty()) to = &history->back();
  } else {
    to = find(request.to_version());
  }
  if (to == nullptr) {
    return MakeError(ErrorCode::kNotFound,
                     request.to_version() == 0
                         ? "group '" + request.group() + "' has no policy of its own"
                         : "group '" + request.group() + "' has no policy version " +
                               std::to_string(request.to_version()));
  }
  const PolicyBundle* from = nullptr;
  if (request.from_version() != 0) {
    from = find(request.from_version());
    if (from == nullptr) {
      return MakeError(ErrorCode::kNotFound, "group '" + request.group() +
                                                 "' has no policy version " +
                                                 std::to_string(request.from_version()));
    }
  } else {
    for (const PolicyBundle& p : *history) {
      if (p.version < to->version) from = &p;
    }
  }
  const std::string from_name =
      from == nullptr ? "(none)" : "version " + std::to_string(from->version);
  const TextDiff diff =
      DiffLines(from == nullptr ? std::string_view() : from->policy_yaml, to->policy_yaml,
                from_name, "version " + std::to_string(to->version));
  response->set_from_version(from == nullptr ? 0 : from->version);
  response->set_to_version(to->version);
  response->set_diff(diff.text);
  response->set_whole_replacement(diff.whole_replacement);
  return Status::Ok();
}

Status AdminQueries::ApplyPolicy(const v1::ApplyPolicyRequest& request, std::string_view applied_by,
                                 v1::ApplyPolicyResponse* response) const {
  if (request.dry_run()) {
    auto run = DryRunPolicy(*hub_, *store_, request.group(), request.policy_yaml(),
                            request.source_name(), clock_->NowMs());
    if (!run.ok()) {
      Log()->info("ApplyPolicy dry run by {} for group '{}' refused: {}", applied_by,
                  request.group(), run.error().message);
      return run.error();
    }
    Log()->info("ApplyPolicy dry run by {} for group '{}': {} device(s) would change decision",
                applied_by, request.group(), run->changes.size());
    ToProto(*run, response->mutable_dry_run());
    return Status::Ok();
  }
  auto stored = hub_->Apply(request.group(), request.policy_yaml(), request.source_name(),
                            std::string(applied_by));
  if (audit_ != nullptr) {
    // applied_by is "web:<user>" from the dashboard, an identity URI from
    // an admin certificate.
    const std::string actor =
        applied_by.starts_with("web:") ? std::string(applied_by) : CertActor(applied_by);
    const std::string source = request.source_name().empty() ? "" : request.source_name() + ": ";
    (void)audit_->Record(actor, audit::kPolicyApply, request.group(),
                         stored.ok() ? source + "version " + std::to_string(stored->version)
                                     : source + stored.error().message,
                         stored.ok() ? AuditOutcome::kOk : AuditOutcome::kFailed);
  }
  if (!stored.ok()) {
    Log()->warn("ApplyPolicy by {} to group '{}' refused: {}", applied_by, request.group(),
                stored.error().message);
    return stored.error();
  }
  Log()->info("policy version {} applied to group '{}' by {}", stored->version, request.group(),
              applied_by);
  response->set_version(stored->version);
  return Status::Ok();
}

Status AdminQueries::ComplianceTrend(const v1::ComplianceTrendRequest& request,
                                     v1::ComplianceTrendResponse* response) const {
  if (!request.group().empty() && !IsValidGroup(request.group())) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid group '" + request.group() + "'");
  }
  if (request.days() > kMaxTrendDays) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "days must be at most " + std::to_string(kMaxTrendDays));
  }
  const uint32_t days = request.days() == 0 ? kDefaultTrendDays : request.days();
  const int64_t now = clock_->NowMs();
  const std::string today = JstDate(now);
  auto rows = store_->ComplianceSnapshots(
      request.group(), JstDate(now - static_cast<int64_t>(days - 1) * kDayMs), today);
  if (!rows.ok()) return rows.error();
  // Today's row is the counts as of now rather than the last record, so the
  // chart's end agrees with the overview table next to it.
  if (!rows->empty() && rows->back().date == today) rows->pop_back();
  v1::GroupSummariesRequest live_request;
  live_request.set_group(request.group());
  v1::GroupSummariesResponse live;
  if (Status s = GroupSummaries(live_request, &live); !s.ok()) return s;
  ComplianceSnapshot now_row{today, request.group(), 0, 0, 0, 0, 0, now};
  for (const v1::GroupSummary& g : live.groups()) {
    if (g.group() != request.group()) continue;
    now_row = ComplianceSnapshot{
        today,     g.group(), g.terminals(), g.compliant(), g.non_compliant(), g.unknown(),
        g.stale(), now};
  }
  rows->push_back(std::move(now_row));
  for (const ComplianceSnapshot& row : *rows) {
    auto* day = response->add_days();
    day->set_date(row.date);
    day->set_group(row.group);
    day->set_terminals(row.terminals);
    day->set_compliant(row.compliant);
    day->set_non_compliant(row.non_compliant);
    day->set_unknown(row.unknown);
    day->set_stale(row.stale);
    SetMs(row.recorded_at_ms, day->mutable_recorded_at());
  }
  return Status::Ok();
}

Status AdminQueries::RecordComplianceSnapshot() const {
  const int64_t now = clock_->NowMs();
  v1::GroupSummariesResponse summaries;
  if (Status s = GroupSummaries(v1::GroupSummariesRequest(), &summaries); !s.ok()) return s;
  std::vector<ComplianceSnapshot> rows;
  rows.reserve(static_cast<std::size_t>(summaries.groups_size()) + 1);
  const std::string today = JstDate(now);
  for (const v1::GroupSummary& g : summaries.groups()) {
    rows.push_back(ComplianceSnapshot{today, g.group(), g.terminals(), g.compliant(),
                                      g.non_compliant(), g.unknown(), g.stale(), now});
  }
  // With no terminal at all there is no "" row; record the zeros so the
  // chart starts on the day the collector did.
  if (rows.empty()) rows.push_back(ComplianceSnapshot{today, "", 0, 0, 0, 0, 0, now});
  return store_->PutComplianceSnapshots(rows);
}

}  // namespace mamori
