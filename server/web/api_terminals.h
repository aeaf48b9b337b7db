#pragma once

#include <optional>

#include "server/admin/admin_queries.h"
#include "server/web/api_support.h"

namespace mamori::web {

// Terminals, for every role (viewer and up):
//   GET /api/terminals       ListTerminalsResponse: one page, by terminal id,
//                            with the number of matches (total) and offset
//   GET /api/terminals/ID    TerminalDetail: checks with evidence, devices
// Query parameters of the list, all optional:
//   group    a group and its descendants
//   status   compliant, non_compliant or unknown
//   check    only terminals failing this check (reporting, policy_current,
//            enforcement_active, no_unapproved_storage, clock_skew)
//   q        text in the terminal id or host name (case-insensitive, <= 64 bytes)
//   page     0-based page number; size  terminals per page (default 100, max 500)
// Nothing for other paths.
std::optional<HttpResponse> HandleTerminalsApi(const ApiCall& call, const AdminQueries& queries);

}  // namespace mamori::web
