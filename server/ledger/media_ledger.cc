#include "server/ledger/media_ledger.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "common/base/jst_time.h"
#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "common/crypto/identity.h"
#include "proto/wire/admin_views.h"
#include "proto/wire/convert.h"
#include "server/ledger/ledger_format.h"
#include "server/policy/ledger_policy.h"

namespace mamori {
namespace {

constexpr std::size_t kMaxImportRecords = 20'000;
constexpr std::size_t kMaxReportedLineErrors = 1000;
constexpr std::size_t kMaxReasonBytes = 512;
constexpr uint32_t kDefaultUnregisteredDays = 30;
constexpr uint32_t kMaxUnregisteredDays = 366;
constexpr uint32_t kMaxUnregisteredEvents = 10'000;
constexpr std::size_t kMaxUnregisteredRows = 2000;

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("ledger");
  return log;
}

void AddUpdates(const std::vector<PolicyBundle>& versions,
                google::protobuf::RepeatedPtrField<v1::PolicyUpdate>* out) {
  for (const PolicyBundle& p : versions) {
    v1::PolicyUpdate* u = out->Add();
    u->set_group(p.group);
    u->set_version(p.version);
  }
}

std::string Describe(const LedgerEntry& e) {
  std::string d = "serial=" + e.serial + " vid_pid=" + FormatVidPid(e.vendor_id, e.product_id) +
                  " group=" + (e.group.empty() ? std::string("(all)") : e.group);
  if (!e.owner.empty()) d += " owner=" + e.owner;
  if (!e.department.empty()) d += " department=" + e.department;
  if (e.expires_ms != 0) d += " expires=" + JstDate(e.expires_ms);
  return d;
}

std::string VersionsText(const std::vector<PolicyBundle>& versions) {
  std::string out;
  for (const PolicyBundle& p : versions) {
    if (!out.empty()) out += ", ";
    out += p.group + " v" + std::to_string(p.version);
  }
  return out.empty() ? "no policy changed" : "policies " + out;
}

// The entry an admin asked for, checked.
Result<LedgerEntry> FromRequest(const v1::Medium& m) {
  LedgerEntry e;
  e.serial = m.serial();
  const auto ids = ParseVidPid(m.vid_pid());
  if (!ids) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "vid_pid must be 'vvvv:pppp' (4 hex digits each), not '" +
                         SanitizeDeviceString(m.vid_pid(), 40) + "'");
  }
  e.vendor_id = ids->first;
  e.product_id = ids->second;
  e.owner = m.owner();
  e.department = m.department();
  e.group = m.group();
  e.note = m.note();
  if (!m.expires().empty()) {
    const auto end = JstDayEndMs(m.expires());
    if (!end) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "expires must be a date YYYY-MM-DD (JST) or empty, not '" +
                           SanitizeDeviceString(m.expires(), 40) + "'");
    }
    e.expires_ms = *end;
  }
  if (Status s = ValidateLedgerFields(e); !s.ok()) return s.error();
  return e;
}

}  // namespace

void ToProto(const LedgerEntry& e, int64_t now_ms, v1::Medium* out) {
  out->set_id(static_cast<uint64_t>(e.id));
  out->set_serial(e.serial);
  out->set_vid_pid(FormatVidPid(e.vendor_id, e.product_id));
  out->set_owner(e.owner);
  out->set_department(e.department);
  out->set_group(e.group);
  if (e.expires_ms != 0) out->set_expires(JstDate(e.expires_ms));
  out->set_note(e.note);
  out->set_added_by(e.added_by);
  if (e.added_at_ms != 0) SetMs(e.added_at_ms, out->mutable_added_at());
  if (!e.active()) {
    out->set_retired_by(e.retired_by);
    SetMs(e.retired_at_ms, out->mutable_retired_at());
    out->set_retire_reason(e.retire_reason);
  }
  out->set_expired(e.expires_ms != 0 && now_ms > e.expires_ms);
}

MediaLedger::MediaLedger(Store* store, PolicyHub* hub, AuditTrail* audit, const Clock* clock)
    : store_(store), hub_(hub), audit_(audit), clock_(clock) {}

void MediaLedger::Warn(std::string_view scope,
                       google::protobuf::RepeatedPtrField<std::string>* out) const {
  for (std::string& w : LedgerScopeWarnings(scope, hub_->PolicyGroups())) out->Add(std::move(w));
}

Status MediaLedger::List(const v1::ListMediaRequest& request,
                         v1::ListMediaResponse* response) const {
  auto entries = store_->ListLedger(request.include_retired());
  if (!entries.ok()) return entries.error();
  const int64_t now = clock_->NowMs();
  for (const LedgerEntry& e : *entries) ToProto(e, now, response->add_media());
  return Status::Ok();
}

Status MediaLedger::Add(std::string_view actor, const v1::AddMediumRequest& request,
                        v1::LedgerChangeResponse* response) {
  auto entry = FromRequest(request.medium());
  if (!entry.ok()) {
    (void)audit_->Record(actor, audit::kLedgerAdd, request.medium().serial(), entry.error().message,
                         AuditOutcome::kFailed);
    return entry.error();
  }
  entry->added_by = std::string(actor);
  entry->added_at_ms = clock_->NowMs();
  int64_t id = 0;
  auto versions = hub_->ApplyLedgerChange(
      [&]() -> Status {
        auto added = store_->AddLedgerEntry(*entry);
        if (!added.ok()) return added.error();
        id = *added;
        return audit_->Record(actor, audit::kLedgerAdd, "#" + std::to_string(id), Describe(*entry),
                              AuditOutcome::kOk);
      },
      std::string(audit::kLedgerAdd) + " by " + std::string(actor));
  if (!versions.ok()) {
    (void)audit_->Record(actor, audit::kLedgerAdd, entry->serial,
                         Describe(*entry) + ": " + versions.error().message, AuditOutcome::kFailed);
    return versions.error();
  }
  entry->id = id;
  ToProto(*entry, clock_->NowMs(), response->mutable_medium());
  AddUpdates(*versions, response->mutable_policies());
  Warn(entry->group, response->mutable_warnings());
  Log()->info("ledger entry #{} added by {}: {}; {}", id, actor, Describe(*entry),
              VersionsText(*versions));
  return Status::Ok();
}

Status MediaLedger::Retire(std::string_view actor, const v1::RetireMediumRequest& request,
                           v1::LedgerChangeResponse* response) {
  const std::string target = "#" + std::to_string(request.id());
  auto fail = [&](const Error& e) {
    (void)audit_->Record(actor, audit::kLedgerRetire, target, e.message, AuditOutcome::kFailed);
    return e;
  };
  if (request.reason().empty()) {
    return fail(MakeError(ErrorCode::kInvalidArgument,
                          "a reason is required to retire a medium (e.g. lost, broken)"));
  }
  if (request.reason().size() > kMaxReasonBytes ||
      NeedsSanitizing(request.reason(), kMaxReasonBytes)) {
    return fail(MakeError(ErrorCode::kInvalidArgument,
                          "reason must be at most 512 bytes of UTF-8 without control characters"));
  }
  if (request.id() == 0 || request.id() > static_cast<uint64_t>(INT64_MAX)) {
    return fail(MakeError(ErrorCode::kNotFound, "no ledger entry " + target));
  }
  const auto id = static_cast<int64_t>(request.id());
  std::optional<LedgerEntry> before;
  auto versions = hub_->ApplyLedgerChange(
      [&]() -> Status {
        auto found = store_->GetLedgerEntry(id);
        if (!found.ok()) return found.error();
        before = *found;
        if (Status s = store_->RetireLedgerEntry(id, actor, clock_->NowMs(), request.reason());
            !s.ok()) {
          return s;
        }
        return audit_->Record(
            actor, audit::kLedgerRetire, target,
            "reason: " + request.reason() + (before ? "; " + Describe(*before) : std::string()),
            AuditOutcome::kOk);
      },
      std::string(audit::kLedgerRetire) + " by " + std::string(actor));
  if (!versions.ok()) return fail(versions.error());
  auto after = store_->GetLedgerEntry(id);
  if (!after.ok()) return after.error();
  if (after->has_value()) ToProto(**after, clock_->NowMs(), response->mutable_medium());
  AddUpdates(*versions, response->mutable_policies());
  Log()->info("ledger entry {} retired by {} ({}); {}", target, actor, request.reason(),
              VersionsText(*versions));
  return Status::Ok();
}

Status MediaLedger::Import(std::string_view actor, const v1::ImportMediaRequest& request,
                           v1::ImportMediaResponse* response) {
  LedgerCsvImport parsed = ParseLedgerCsv(request.csv());
  std::vector<CsvLineProblem> problems = std::move(parsed.problems);
  if (parsed.entries.size() > kMaxImportRecords) {
    problems.push_back(
        {parsed.entries[kMaxImportRecords].first,
         "too many entries: at most " + std::to_string(kMaxImportRecords) + " per import"});
  }
  if (parsed.entries.empty() && problems.empty()) {
    problems.push_back({1, "no entries after the header"});
  }
  // The same medium twice in one scope within the file.
  std::map<std::tuple<std::string, uint16_t, uint16_t, std::string>, uint32_t> seen;
  for (const auto& [line, e] : parsed.entries) {
    auto [it, inserted] =
        seen.emplace(std::tuple{e.serial, e.vendor_id, e.product_id, e.group}, line);
    if (!inserted) {
      problems.push_back({line, "the same medium and group as line " + std::to_string(it->second)});
    }
  }
  const int64_t now = clock_->NowMs();
  std::vector<PolicyBundle> versions;
  if (problems.empty()) {
    auto applied = hub_->ApplyLedgerChange(
        [&]() -> Status {
          for (auto& [line, e] : parsed.entries) {
            e.added_by = std::string(actor);
            e.added_at_ms = now;
            auto added = store_->AddLedgerEntry(e);
            if (!added.ok()) {
              if (added.error().code != ErrorCode::kAlreadyExists) return added.error();
              problems.push_back({line, added.error().message});
            }
          }
          if (!problems.empty()) {
            return MakeError(ErrorCode::kInvalidArgument, "import has bad lines");
          }
          return audit_->Record(actor, audit::kLedgerImport, "csv",
                                std::to_string(parsed.entries.size()) + " entries",
                                AuditOutcome::kOk);
        },
        std::string(audit::kLedgerImport) + " by " + std::string(actor));
    if (!applied.ok() && problems.empty()) {
      (void)audit_->Record(actor, audit::kLedgerImport, "csv", applied.error().message,
                           AuditOutcome::kFailed);
      return applied.error();
    }
    if (applied.ok()) versions = std::move(*applied);
  }
  if (!problems.empty()) {
    std::stable_sort(
        problems.begin(), problems.end(),
        [](const CsvLineProblem& a, const CsvLineProblem& b) { return a.line < b.line; });
    for (std::size_t i = 0; i < problems.size() && i < kMaxReportedLineErrors; ++i) {
      v1::CsvLineError* err = response->add_errors();
      err->set_line(problems[i].line);
      err->set_message(problems[i].message);
    }
    if (problems.size() > kMaxReportedLineErrors) {
      v1::CsvLineError* err = response->add_errors();
      err->set_line(problems[kMaxReportedLineErrors].line);
      err->set_message("... and " + std::to_string(problems.size() - kMaxReportedLineErrors) +
                       " more bad lines");
    }
    (void)audit_->Record(actor, audit::kLedgerImport, "csv",
                         std::to_string(problems.size()) + " bad line(s), first at line " +
                             std::to_string(problems.front().line) + ": " +
                             problems.front().message + "; nothing stored",
                         AuditOutcome::kFailed);
    return Status::Ok();
  }
  response->set_imported(static_cast<uint32_t>(parsed.entries.size()));
  AddUpdates(versions, response->mutable_policies());
  std::vector<std::string> scopes;
  for (const auto& [line, e] : parsed.entries) {
    if (std::find(scopes.begin(), scopes.end(), e.group) == scopes.end()) scopes.push_back(e.group);
  }
  for (const std::string& scope : scopes) Warn(scope, response->mutable_warnings());
  Log()->info("{} ledger entries imported by {}; {}", parsed.entries.size(), actor,
              VersionsText(versions));
  return Status::Ok();
}

Status MediaLedger::Export(const v1::ExportMediaRequest& /*request*/,
                           v1::ExportMediaResponse* response) const {
  auto entries = store_->ListLedger(/*include_retired=*/false);
  if (!entries.ok()) return entries.error();
  response->set_csv(LedgerToCsv(*entries));
  return Status::Ok();
}

Status MediaLedger::Unregistered(const v1::UnregisteredDevicesRequest& request,
                                 v1::UnregisteredDevicesResponse* response) const {
  if (!request.group().empty() && !IsValidGroup(request.group())) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid group '" + request.group() + "'");
  }
  const uint32_t days = request.days() == 0 ? kDefaultUnregisteredDays
                                            : std::min(request.days(), kMaxUnregisteredDays);
  const int64_t now = clock_->NowMs();
  auto ledger = store_->ListLedger(/*include_retired=*/false);
  if (!ledger.ok()) return ledger.error();
  auto terminals = store_->ListTerminals(request.group());
  if (!terminals.ok()) return terminals.error();

  auto registered = [&](std::string_view group, const DeviceIdentity& d) {
    return std::any_of(ledger->begin(), ledger->end(), [&](const LedgerEntry& e) {
      return e.vendor_id == d.vendor_id && e.product_id == d.product_id && e.serial == d.serial &&
             GroupContains(e.group, group) && (e.expires_ms == 0 || now <= e.expires_ms);
    });
  };
  struct Seen {
    std::string terminal_id;
    std::string group;
    std::string hostname;
    Device device;
    int64_t last_seen_ms = 0;
    bool present = false;
  };
  using Key = std::tuple<std::string, uint16_t, uint16_t, std::string>;
  std::map<Key, Seen> seen;
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> term_info;
  for (const TerminalState& t : *terminals) {
    term_info[t.terminal_id] = {t.group, t.hostname};
    for (const Device& d : t.devices) {
      if (!d.identity.HasStorage() || registered(t.group, d.identity)) continue;
      Seen& s =
          seen[Key{t.terminal_id, d.identity.vendor_id, d.identity.product_id, d.identity.serial}];
      s = Seen{t.terminal_id, t.group, t.hostname, d, t.last_report_ms, true};
    }
  }
  EventQuery q;
  q.group = request.group();
  q.kinds = {EventKind::kDeviceAllowed, EventKind::kDeviceBlocked, EventKind::kDeviceReadOnly};
  q.since_ms = now - static_cast<int64_t>(days) * 86'400'000;
  q.limit = kMaxUnregisteredEvents;
  auto events = store_->QueryEvents(q);
  if (!events.ok()) return events.error();
  for (const StoredEvent& ev : *events) {
    if (!ev.event.device || !ev.event.device->identity.HasStorage()) continue;
    const auto info = term_info.find(ev.terminal_id);
    const std::string group = info == term_info.end() ? std::string() : info->second.first;
    const DeviceIdentity& id = ev.event.device->identity;
    if (registered(group, id)) continue;
    const Key key{ev.terminal_id, id.vendor_id, id.product_id, id.serial};
    auto it = seen.find(key);
    if (it == seen.end()) {
      seen.emplace(key, Seen{ev.terminal_id, group,
                             info == term_info.end() ? std::string() : info->second.second,
                             *ev.event.device, ev.event.time_ms, false});
    } else if (ev.event.time_ms > it->second.last_seen_ms && !it->second.present) {
      it->second.last_seen_ms = ev.event.time_ms;
    }
  }
  std::vector<const Seen*> rows;
  rows.reserve(seen.size());
  for (const auto& [key, s] : seen) rows.push_back(&s);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Seen* a, const Seen* b) { return a->last_seen_ms > b->last_seen_ms; });
  for (std::size_t i = 0; i < rows.size() && i < kMaxUnregisteredRows; ++i) {
    const Seen& s = *rows[i];
    v1::UnregisteredDevice* out = response->add_devices();
    out->set_terminal_id(s.terminal_id);
    out->set_group(s.group);
    out->set_hostname(s.hostname);
    ToView(s.device, out->mutable_device());
    if (s.last_seen_ms != 0) SetMs(s.last_seen_ms, out->mutable_last_seen());
    out->set_present(s.present);
  }
  return Status::Ok();
}

}  // namespace mamori
