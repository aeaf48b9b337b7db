#pragma once

#include <optional>

#include "server/admin/admin_queries.h"
#include "server/web/api_support.h"

namespace mamori::web {

// Events, for every role (viewer and up):
//   GET /api/events      QueryEventsResponse, newest first, one page
//   GET /api/events.csv  the same filter as CSV (common/base/csv.h), every
//                        page up to a row cap; a capped export says so in
//                        its last line and in X-Mamori-Export-Capped
// Query parameters, all optional:
//   group, terminal      a group (and its descendants) or one terminal
//   kind                 problems (default: blocked + enforcement failures),
//                        blocked, failure, decisions (allowed, read-only,
//                        blocked, failures), all, or one kind's name
//   from, to             "YYYY-MM-DD" (JST days, both included) or RFC 3339
//                        times (from included, to excluded)
//   q                    text in terminal, user, rule, vid:pid or device strings
//   cursor, limit        paging (next_cursor of the previous page; limit <= 500)
//   lang                 ja or en: the CSV's header row
// Nothing for other paths.
std::optional<HttpResponse> HandleEventsApi(const ApiCall& call, const AdminQueries& queries);

}  // namespace mamori::web
