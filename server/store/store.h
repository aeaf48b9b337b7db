#pragma once

#include <memory>
#include <string>

#include "common/base/result.h"
#include "server/store/account_repository.h"
#include "server/store/audit_repository.h"
#include "server/store/compliance_history.h"
#include "server/store/enrollment_repository.h"
#include "server/store/event_repository.h"
#include "server/store/exception_repository.h"
#include "server/store/ledger_repository.h"
#include "server/store/policy_repository.h"
#include "server/store/terminal_repository.h"
#include "server/store/transactions.h"
#include "server/store/unlock_repository.h"

namespace mamori {

// The collector's persistent state: one repository per aggregate, all in
// one database so that a transaction can span them (a ledger change and the
// policy versions it causes). Domains take the repositories they use.
// Implementations are thread-safe. Device strings are stored as given:
// callers sanitize before storing.
class Store : public Transactions,
              public TerminalRepository,
              public EventRepository,
              public PolicyRepository,
              public AccountRepository,
              public ComplianceHistory,
              public LedgerRepository,
              public ExceptionRepository,
              public AuditRepository,
              public UnlockRepository,
              public EnrollmentRepository {
 public:
  ~Store() override = default;

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
