#pragma once

#include <optional>

#include "server/exceptions/exception_workflow.h"
#include "server/web/api_support.h"

namespace mamori::web {

// Time-limited exceptions:
//   GET  /api/exceptions[?terminal=ID&state=S]  ListExceptionsResponse (viewers)
//   POST /api/exceptions                 RequestExceptionRequest -> ExceptionChangeResponse
//                                        (operators and admins)
//   POST /api/exceptions/ID/approve      {"note"} (admins)
//   POST /api/exceptions/ID/refuse       {"note"} (admins)
//   POST /api/exceptions/ID/cancel       {"note"} (its requester, or an admin)
// A change refused for the role is recorded in the audit log as denied.
// Nothing for other paths.
std::optional<HttpResponse> HandleExceptionsApi(const ApiCall& call, ExceptionWorkflow* exceptions);

}  // namespace mamori::web
