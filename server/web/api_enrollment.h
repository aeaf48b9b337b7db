#pragma once

#include <optional>

#include "server/enrollment/enrollment_workflow.h"
#include "server/web/api_support.h"

namespace mamori::web {

// Enrollment tokens and recent enrollments:
//   GET  /api/enroll-tokens                 ListEnrollTokensResponse (any role)
//   POST /api/enroll-tokens                 CreateEnrollTokenRequest ->
//                                           CreateEnrollTokenResponse (admins; the token
//                                           text is in this answer only)
//   POST /api/enroll-tokens/<id>/revoke     {} (admins)
//   GET  /api/enrollments[?limit=N]         ListEnrollmentsResponse (any role)
// Nothing for other paths; 503 when the collector has no issuing CA.
std::optional<HttpResponse> HandleEnrollmentApi(const ApiCall& call,
                                                EnrollmentWorkflow* enrollment);

}  // namespace mamori::web
