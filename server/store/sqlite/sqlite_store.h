#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/store/sqlite/sqlite_handle.h"
#include "server/store/store.h"

namespace mamori {

// Store on one SQLite connection in WAL mode.
//
// One connection behind one recursive mutex: SQLite serialises writers
// anyway, and a single connection makes WithTransaction simple. The thread
// running a transaction holds the mutex for its whole duration, so calls it
// makes into the store re-enter and join the transaction (nested
// transactions become savepoints); other threads wait until it ends.
//
// Query conventions not fixed by Store:
// - devices come back in the order of the snapshot that stored them;
// - EventQuery's since_ms is inclusive and until_ms exclusive; limit 0
//   means the default of 100;
// - a snapshot listing the same device_id twice is rejected.
class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   const SqliteOptions& options);

  Status WithTransaction(const std::function<Status()>& body) override;

  Status PutTerminalState(const TerminalState& state) override;
  Result<std::optional<TerminalState>> GetTerminal(std::string_view terminal_id) override;
  Result<std::vector<TerminalState>> ListTerminals(std::string_view group) override;
  Status ForEachTerminal(std::string_view group,
                         const std::function<Status(TerminalState&&)>& visit) override;

  Result<uint64_t> AppendEvents(std::string_view terminal_id, const std::vector<Event>& events,
                                int64_t received_ms) override;
  Result<uint64_t> AckedThrough(std::string_view terminal_id) override;
  Result<std::vector<StoredEvent>> QueryEvents(const EventQuery& query) override;

  Result<PolicyBundle> PutPolicy(std::string_view group, std::string_view yaml,
                                 std::string_view applied_by, int64_t now_ms) override;
  Status SetPolicySignature(std::string_view group, uint64_t version, std::string_view signature,
                            std::string_view key_id) override;
  Result<std::optional<PolicyBundle>> GetPolicy(std::string_view group, uint64_t version) override;
  Result<std::vector<PolicyBundle>> LatestPolicies() override;
  Result<std::vector<PolicyBundle>> PolicyHistory(std::string_view group) override;
  Result<std::vector<PolicyBundle>> RecentPolicyVersions(std::string_view group,
                                                         uint32_t limit) override;

  Status PutUser(const UserRecord& user) override;
  Result<std::optional<UserRecord>> GetUser(std::string_view name) override;
  Result<std::vector<UserRecord>> ListUsers() override;
  Status PutSession(const SessionRecord& session) override;
  Result<std::optional<SessionRecord>> GetSession(std::string_view token_hash) override;
  Status DeleteSession(std::string_view token_hash) override;
  Status DeleteUserSessions(std::string_view user_name) override;

  Status PutComplianceSnapshots(const std::vector<ComplianceSnapshot>& rows) override;
  Result<std::vector<ComplianceSnapshot>> ComplianceSnapshots(std::string_view group,
                                                              std::string_view from_date,
                                                              std::string_view to_date) override;

  Result<int64_t> AddLedgerEntry(const LedgerEntry& entry) override;
  Status RetireLedgerEntry(int64_t id, std::string_view retired_by, int64_t at_ms,
                           std::string_view reason) override;
  Result<std::optional<LedgerEntry>> GetLedgerEntry(int64_t id) override;
  Result<std::vector<LedgerEntry>> ListLedger(bool include_retired) override;
  Result<int64_t> AddExceptionRequest(const ExceptionRequest& request) override;
  Status DecideExceptionRequest(int64_t id, const std::vector<ExceptionRequestState>& from,
                                ExceptionRequestState to, std::string_view by, int64_t at_ms,
                                std::string_view note) override;
  Result<std::optional<ExceptionRequest>> GetExceptionRequest(int64_t id) override;
  Result<std::vector<ExceptionRequest>> ListExceptionRequests() override;
  Result<std::vector<ExceptionRequest>> ApprovedExceptions(int64_t now_ms) override;
  Result<int64_t> AppendAudit(const AuditRecord& record) override;
  Result<std::vector<AuditRecord>> QueryAudit(const AuditQuery& query) override;
  Status SetPolicySource(std::string_view group, uint64_t version,
                         std::string_view source_yaml) override;
  Result<std::string> PolicySource(std::string_view group, uint64_t version) override;

  Status PutTerminalCertificate(std::string_view terminal_id, std::string_view cert_pem,
                                int64_t seen_ms) override;
  Result<std::optional<std::string>> TerminalCertificate(std::string_view terminal_id) override;
  Result<int64_t> AddIssuedUnlockCode(const IssuedUnlockCode& code) override;
  Result<std::vector<IssuedUnlockCode>> ListIssuedUnlockCodes(std::string_view terminal_id,
                                                              uint32_t limit) override;
  Result<bool> MarkUnlockCodeUsed(std::string_view terminal_id, std::string_view code,
                                  int64_t used_at_ms, std::string_view used_by) override;

  Status AddEnrollToken(const EnrollToken& token) override;
  Result<std::optional<EnrollToken>> GetEnrollToken(std::string_view id) override;
  Result<std::vector<EnrollToken>> ListEnrollTokens() override;
  Result<bool> RevokeEnrollToken(std::string_view id, std::string_view by, int64_t at_ms) override;
  Result<TokenRefusal> TakeEnrollTokenUse(std::string_view id, int64_t now_ms) override;
  Status AddIssuedCertificate(const IssuedCertificateRecord& record) override;
  Result<int64_t> LatestCertificateExpiry(std::string_view role,
                                          std::string_view subject_id) override;
  Result<std::vector<IssuedCertificateRecord>> ListIssuedCertificates(std::string_view subject_id,
                                                                      uint32_t limit) override;
  Result<int64_t> AddEnrollment(const EnrollmentRecord& record) override;
  Result<std::vector<EnrollmentRecord>> ListEnrollments(uint32_t limit) override;
  Status AllowReenrollment(std::string_view terminal_id, std::string_view by,
                           int64_t until_ms) override;
  Result<bool> TakeReenrollment(std::string_view terminal_id, int64_t now_ms) override;
  int SchemaVersion() override;

 private:
  enum class TxKind { kRead, kWrite };

  SqliteStore(sqlite::DbPtr db, std::string path, int schema_version);

  // All of the following require mu_ to be held.
  Status RunInTransaction(TxKind kind, const std::function<Status()>& body);
  Result<sqlite::StmtLease> Prepare(std::string_view sql);
  Status Exec(std::string_view sql);
  Error SqlError(int rc, std::string_view what) const;

  Status PutTerminalStateLocked(const TerminalState& state);
  // Whether a group's events are best found by walking events_by_time
  // newest first (true) or through each terminal of the group (false).
  Result<bool> WalkTimeIndexForGroup(const EventQuery& query, const std::vector<EventKind>& kinds);
  Result<uint64_t> AckedThroughLocked(std::string_view terminal_id);
  Result<std::vector<PolicyBundle>> ReadPolicies(std::string_view sql, std::string_view group,
                                                 bool bind_group);

  std::recursive_mutex mu_;
  sqlite::DbPtr db_;  // guarded by mu_
  const std::string path_;
  const int schema_version_;
  int tx_depth_ = 0;  // guarded by mu_; > 0 while the holder of mu_ is in a transaction
  // Prepared once, reused for the connection's lifetime; keyed by SQL text.
  // Declared after db_ so the statements are finalized before it closes.
  std::map<std::string, sqlite::StmtPtr, std::less<>> statements_;  // guarded by mu_
};

}  // namespace mamori
