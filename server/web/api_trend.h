#pragma once

#include <optional>

#include "server/admin/admin_queries.h"
#include "server/web/api_support.h"

namespace mamori::web {

// The overview's trend chart, for every role:
//   GET /api/trend?group=G&days=N  ComplianceTrendResponse (N <= 366,
//                                  default 30; G "" = whole deployment)
// Nothing for other paths.
std::optional<HttpResponse> HandleTrendApi(const ApiCall& call, const AdminQueries& queries);

}  // namespace mamori::web
