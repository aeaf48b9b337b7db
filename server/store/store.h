#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/event.h"
#include "common/result.h"
#include "common/terminal_state.h"

namespace mamori {

struct StoredPolicy {
  std::string group;
  uint64_t version = 0;
  std::string yaml;
  std::string applied_by;  // admin identity URI
  int64_t applied_at_ms = 0;
  // Ed25519 signature over the bundle (see common/policy_signing.h), raw
  // bytes, and the id of the key that made it; empty until signed.
  std::string signature;
  std::string key_id;
};

struct EventQuery {
  std::string terminal_id;       // empty = any
  std::string group;             // empty = any; else group and descendants
  std::vector<EventKind> kinds;  // empty = any
  int64_t since_ms = 0;          // 0 = unbounded
  int64_t until_ms = 0;          // 0 = unbounded
  uint32_t limit = 100;
};

// A dashboard account (server/web). The password hash and TOTP secret are
// opaque here; server/web/password.h and totp.h define them.
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

  // Stores events idempotently by (terminal, seq): a seq already stored is
  // ignored. Returns the highest seq S such that 1..S are all stored.
  virtual Result<uint64_t> AppendEvents(std::string_view terminal_id,
                                        const std::vector<Event>& events, int64_t received_ms) = 0;
  virtual Result<uint64_t> AckedThrough(std::string_view terminal_id) = 0;
  // Newest first. The group filter uses the terminal's group.
  virtual Result<std::vector<StoredEvent>> QueryEvents(const EventQuery& query) = 0;

  // Stores a new version for the group. Versions are one deployment-wide
  // revision counter (highest stored + 1, from 1), so they increase per group
  // and also never go down for a terminal whose policy moves from an
  // inherited one to its group's own: agents can refuse any older version.
  virtual Result<StoredPolicy> PutPolicy(std::string_view group, std::string_view yaml,
                                         std::string_view applied_by, int64_t now_ms) = 0;
  // Records the signature of a stored version (when it is applied, and when
  // the collector re-signs at start after an upgrade or a key rotation).
  virtual Status SetPolicySignature(std::string_view group, uint64_t version,
                                    std::string_view signature, std::string_view key_id) = 0;
  // The group's own policy (no inheritance); version 0 = latest.
  virtual Result<std::optional<StoredPolicy>> GetPolicy(std::string_view group,
                                                        uint64_t version) = 0;
  // The latest version of every group that has a policy.
  virtual Result<std::vector<StoredPolicy>> LatestPolicies() = 0;
  // Every version of the group, oldest first.
  virtual Result<std::vector<StoredPolicy>> PolicyHistory(std::string_view group) = 0;
  // The group's latest `limit` versions (0 = all), newest first: who applied
  // what and when, for `mamorictl policy history`.
  virtual Result<std::vector<StoredPolicy>> RecentPolicyVersions(std::string_view group,
                                                                 uint32_t limit) = 0;

  // Dashboard accounts. PutUser inserts or replaces by name.
  virtual Status PutUser(const UserRecord& user) = 0;
  virtual Result<std::optional<UserRecord>> GetUser(std::string_view name) = 0;
  virtual Status PutSession(const SessionRecord& session) = 0;
  virtual Result<std::optional<SessionRecord>> GetSession(std::string_view token_hash) = 0;
  virtual Status DeleteSession(std::string_view token_hash) = 0;
  // Ends every session of the user (password reset, disable).
  virtual Status DeleteUserSessions(std::string_view user_name) = 0;

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
