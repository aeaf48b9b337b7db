#pragma once

#include <optional>

#include "server/admin/admin_queries.h"
#include "server/web/api_support.h"

namespace mamori::web {

// Policies of a group. Reading is for every role:
//   GET  /api/policies?group=G[&version=N]  GetPolicyResponse: in force
//                                           (own or inherited), or version N
//   GET  /api/policies/history?group=G      PolicyHistoryResponse
//   GET  /api/policies/diff?group=G&to=N[&from=M]  PolicyDiffResponse
// Changing is for operators and admins (viewers get 403), with a JSON
// ApplyPolicyRequest body {"group", "policyYaml"}:
//   POST /api/policies/dry-run  ApplyPolicyResponse with dryRun
//   POST /api/policies/apply    ApplyPolicyResponse with the new version,
//                               recorded as applied by "web:<user>"
// Applying goes through AdminQueries::ApplyPolicy, the admin service's own
// path: same validation, signing, storage and push to agents.
// Nothing for other paths.
std::optional<HttpResponse> HandlePoliciesApi(const ApiCall& call, const AdminQueries& queries);

}  // namespace mamori::web
