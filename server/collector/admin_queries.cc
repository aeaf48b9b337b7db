#include "server/collector/admin_queries.h"

#include <algorithm>

#include "proto/convert.h"

namespace mamori {

AdminQueries::AdminQueries(Store* store, PolicyHub* hub, const Clock* clock,
                           ComplianceConfig config)
    : store_(store), hub_(hub), clock_(clock), config_(config) {}

AdminQueries::Evaluated AdminQueries::Evaluate(TerminalState state, int64_t now) const {
  Evaluated e;
  const PolicyHub::Assigned assigned = hub_->AssignedTo(state.group);
  e.assigned_version = assigned.version;
  e.compliance = EvaluateCompliance(state, assigned.policy.get(), assigned.version, now, config_);
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
}

Status AdminQueries::ListTerminals(const v1::ListTerminalsRequest& request,
                                   v1::ListTerminalsResponse* response) const {
  auto terminals = store_->ListTerminals(request.group());
  if (!terminals.ok()) return terminals.error();
  const uint32_t limit = request.limit() == 0 ? 1000 : std::min<uint32_t>(request.limit(), 10000);
  const int64_t now = clock_->NowMs();
  uint32_t matched = 0;
  for (auto& t : *terminals) {
    Evaluated e = Evaluate(std::move(t), now);
    if (request.status() != v1::COMPLIANCE_STATUS_UNSPECIFIED &&
        ToProto(e.compliance.status) != request.status()) {
      continue;
    }
    if (matched >= request.offset() && matched - request.offset() < limit) {
      FillSummary(e, response->add_terminals());
    }
    ++matched;
  }
  response->set_total(matched);
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
  auto terminals = store_->ListTerminals(request.group());
  if (!terminals.ok()) return terminals.error();
  const int64_t now = clock_->NowMs();
  std::vector<std::pair<std::string, ComplianceStatus>> statuses;
  statuses.reserve(terminals->size());
  for (auto& t : *terminals) {
    Evaluated e = Evaluate(std::move(t), now);
    statuses.emplace_back(e.state.group, e.compliance.status);
  }
  for (const auto& g : AggregateByGroup(statuses, request.group())) {
    auto* out = response->add_groups();
    out->set_group(g.group);
    out->set_terminals(g.terminals);
    out->set_compliant(g.compliant);
    out->set_non_compliant(g.non_compliant);
    out->set_unknown(g.unknown);
  }
  return Status::Ok();
}

}  // namespace mamori
