#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/device/event.h"
#include "common/device/terminal_state.h"
#include "common/policy/policy_bundle.h"

namespace mamori {

// A position in the newest-first order of events: (time, seq, terminal).
struct EventPosition {
  int64_t time_ms = 0;
  uint64_t seq = 0;
  std::string terminal_id;
};

struct EventQuery {
  std::string terminal_id;       // empty = any
  std::string group;             // empty = any; else group and descendants
  std::vector<EventKind> kinds;  // empty = any
  int64_t since_ms = 0;          // 0 = unbounded
  int64_t until_ms = 0;          // 0 = unbounded
  uint32_t limit = 100;
  // Substring of terminal id, user, matched rule, "vvvv:pppp", manufacturer,
  // product or serial; ASCII letters match case-insensitively. Empty = any.
  std::string text;
  // Only events strictly after this position (paging); nullopt = from the newest.
  std::optional<EventPosition> after;
};

// The compliance counts of one group on one JST day (the dashboard's trend).
struct ComplianceSnapshot {
  std::string date;   // "YYYY-MM-DD", JST
  std::string group;  // "" = the whole deployment
  uint32_t terminals = 0;
  uint32_t compliant = 0;
  uint32_t non_compliant = 0;
  uint32_t unknown = 0;
  uint32_t stale = 0;  // reporting check failing
  int64_t recorded_at_ms = 0;
};

// One entry of the media ledger (外部記録媒体管理台帳). Rows are never
// deleted; a retired entry keeps who retired it, when and why.
struct LedgerEntry {
  int64_t id = 0;  // assigned by the store, never reused
  std::string serial;
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  std::string owner;
  std::string department;
  std::string group;       // scope: this group and its descendants; "" = all
  int64_t expires_ms = 0;  // last valid millisecond; 0 = never expires
  std::string note;
  std::string added_by;  // actor, e.g. "web:alice"
  int64_t added_at_ms = 0;
  std::string retired_by;
  int64_t retired_at_ms = 0;  // 0 = active
  std::string retire_reason;

  bool active() const { return retired_at_ms == 0; }
};

// One administrative action (append-only).
struct AuditRecord {
  int64_t id = 0;  // assigned by the store, increasing
  int64_t at_ms = 0;
  std::string actor;   // "web:alice", "cert:mamori://admin/ops"
  std::string action;  // "ledger.add", "policy.apply", ...
  std::string target;
  std::string detail;
  std::string outcome;  // "ok", "denied", "failed"
};

struct AuditQuery {
  std::string actor;      // exact; empty = any
  std::string action;     // exact; empty = any
  int64_t since_ms = 0;   // inclusive; 0 = unbounded
  int64_t until_ms = 0;   // exclusive; 0 = unbounded
  int64_t before_id = 0;  // only older entries (paging); 0 = from the newest
  uint32_t limit = 100;   // 0 = 100
};

// A dashboard account (server/web). The password hash and TOTP secret are
// opaque here; server/accounts/password.h and totp.h define them.
struct UserRecord {
  std::string name;
  std::string role;  // "viewer", "operator" or "admin"
  std::string password_hash;
  std::string totp_secret;  // raw bytes
  bool disabled = false;
  int64_t failed_logins = 0;    // consecutive failures since the last success
  int64_t locked_until_ms = 0;  // 0 = not locked
  int64_t last_totp_step = 0;   // highest TOTP step accepted (replay guard)
  int64_t created_at_ms = 0;
};

// A dashboard login session. Only a hash of the cookie token is stored, so
// a copy of the database does not yield usable sessions.
struct SessionRecord {
  std::string token_hash;  // SHA-256 of the cookie token, lower-case hex
  std::string user_name;
  std::string csrf_token;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
};

// The collector's persistent state. Implementations are thread-safe.
// Device strings are stored as given: callers sanitize before storing.
class Store {
 public:
  virtual ~Store() = default;

  // Runs `body` in one transaction (one fsync for everything inside); calls
  // to this store made by `body` on the same thread join the transaction.
  // If `body` returns an error the transaction is rolled back.
  virtual Status WithTransaction(const std::function<Status()>& body) = 0;

  // Replaces the terminal's snapshot, its devices included.
  virtual Status PutTerminalState(const TerminalState& state) = 0;
  virtual Result<std::optional<TerminalState>> GetTerminal(std::string_view terminal_id) = 0;
  // Terminals in `group` or below ("" = all), devices included, by id.
  virtual Result<std::vector<TerminalState>> ListTerminals(std::string_view group) = 0;
  // The same terminals one at a time, by id, without holding them all in
  // memory (loading a deployment's worth at start); stops at the first
  // error `visit` returns.
  virtual Status ForEachTerminal(std::string_view group,
                                 const std::function<Status(TerminalState&&)>& visit) = 0;

  // Stores events idempotently by (terminal, seq): a seq already stored is
  // ignored. Returns the highest seq S such that 1..S are all stored.
  virtual Result<uint64_t> AppendEvents(std::string_view terminal_id,
                                        const std::vector<Event>& events, int64_t received_ms) = 0;
  virtual Result<uint64_t> AckedThrough(std::string_view terminal_id) = 0;
  // Newest first. The group filter uses the terminal's group; each event
  // comes back with its terminal's current group.
  virtual Result<std::vector<StoredEvent>> QueryEvents(const EventQuery& query) = 0;

  // Stores a new version for the group. Versions are one deployment-wide
  // revision counter (highest stored + 1, from 1), so they increase per group
  // and also never go down for a terminal whose policy moves from an
  // inherited one to its group's own: agents can refuse any older version.
  virtual Result<PolicyBundle> PutPolicy(std::string_view group, std::string_view yaml,
                                         std::string_view applied_by, int64_t now_ms) = 0;
  // Records the signature of a stored version (when it is applied, and when
  // the collector re-signs at start after an upgrade or a key rotation).
  virtual Status SetPolicySignature(std::string_view group, uint64_t version,
                                    std::string_view signature, std::string_view key_id) = 0;
  // The group's own policy (no inheritance); version 0 = latest.
  virtual Result<std::optional<PolicyBundle>> GetPolicy(std::string_view group,
                                                        uint64_t version) = 0;
  // The latest version of every group that has a policy.
  virtual Result<std::vector<PolicyBundle>> LatestPolicies() = 0;
  // Every version of the group, oldest first.
  virtual Result<std::vector<PolicyBundle>> PolicyHistory(std::string_view group) = 0;
  // The group's latest `limit` versions (0 = all), newest first: who applied
  // what and when, for `mamorictl policy history`.
  virtual Result<std::vector<PolicyBundle>> RecentPolicyVersions(std::string_view group,
                                                                 uint32_t limit) = 0;

  // Dashboard accounts. PutUser inserts or replaces by name.
  virtual Status PutUser(const UserRecord& user) = 0;
  virtual Result<std::optional<UserRecord>> GetUser(std::string_view name) = 0;
  // Every account, by name (the dashboard's user list).
  virtual Result<std::vector<UserRecord>> ListUsers() = 0;
  virtual Status PutSession(const SessionRecord& session) = 0;
  virtual Result<std::optional<SessionRecord>> GetSession(std::string_view token_hash) = 0;
  virtual Status DeleteSession(std::string_view token_hash) = 0;
  // Ends every session of the user (password reset, disable).
  virtual Status DeleteUserSessions(std::string_view user_name) = 0;

  // Inserts or replaces the rows of (date, group), all in one transaction.
  virtual Status PutComplianceSnapshots(const std::vector<ComplianceSnapshot>& rows) = 0;
  // The rows of `group` with from_date <= date <= to_date ("YYYY-MM-DD"),
  // oldest first.
  virtual Result<std::vector<ComplianceSnapshot>> ComplianceSnapshots(std::string_view group,
                                                                      std::string_view from_date,
                                                                      std::string_view to_date) = 0;

  // The media ledger. AddLedgerEntry returns the new id; kAlreadyExists
  // when an active entry registers the same medium in the same scope.
  virtual Result<int64_t> AddLedgerEntry(const LedgerEntry& entry) = 0;
  // kNotFound for an unknown id, kFailedPrecondition when already retired.
  virtual Status RetireLedgerEntry(int64_t id, std::string_view retired_by, int64_t at_ms,
                                   std::string_view reason) = 0;
  virtual Result<std::optional<LedgerEntry>> GetLedgerEntry(int64_t id) = 0;
  // By id; retired entries only when asked for.
  virtual Result<std::vector<LedgerEntry>> ListLedger(bool include_retired) = 0;

  // The audit log: append and read only, nothing updates or deletes it.
  virtual Result<int64_t> AppendAudit(const AuditRecord& record) = 0;
  // Newest first.
  virtual Result<std::vector<AuditRecord>> QueryAudit(const AuditQuery& query) = 0;

  // The document an admin applied for a stored version, before the
  // collector merged the ledger's media into it; a version stored without
  // one reads as its own yaml.
  virtual Status SetPolicySource(std::string_view group, uint64_t version,
                                 std::string_view source_yaml) = 0;
  virtual Result<std::string> PolicySource(std::string_view group, uint64_t version) = 0;

  // Schema version after migrations.
  virtual int SchemaVersion() = 0;
};

struct SqliteOptions {
  // "full": an acknowledged write survives power loss; "normal": survives a
  // process crash (kill -9) but not necessarily power loss.
  std::string synchronous = "full";
  int busy_timeout_ms = 5000;
};

// Opens (creating if needed) and migrates the SQLite database at `path`, in
// WAL mode. The error names the path and the SQLite message.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteOptions& options);

}  // namespace mamori
