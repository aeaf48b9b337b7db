#pragma once

#include <optional>

#include "server/audit/audit_trail.h"
#include "server/ledger/media_ledger.h"
#include "server/web/api_support.h"

namespace mamori::web {

// The media ledger (viewers read, operators and admins change):
//   GET  /api/media[?retired=1]        ListMediaResponse
//   POST /api/media                    AddMediumRequest -> LedgerChangeResponse
//   POST /api/media/ID/retire          {"reason"} -> LedgerChangeResponse
//   POST /api/media/import             ImportMediaRequest -> ImportMediaResponse
//                                      (200 with `errors` when lines are bad)
//   GET  /api/media/export             the CSV as a download
//   GET  /api/media/unregistered[?group=G&days=N]  UnregisteredDevicesResponse
// and the audit log (admins only):
//   GET  /api/audit[?actor=&action=&since=&until=&before=&limit=]
//        QueryAuditResponse; since/until are YYYY-MM-DD (JST days, until
//        inclusive) or RFC 3339 times.
// Bodies and answers are the admin service's messages in protobuf's JSON
// mapping. A change refused for the role is recorded in the audit log as
// denied. Nothing for other paths.
std::optional<HttpResponse> HandleLedgerApi(const ApiCall& call, MediaLedger* ledger,
                                            const AuditTrail* audit);

}  // namespace mamori::web
