#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/policy/policy.h"
#include "server/store/exception_repository.h"

namespace mamori {

// How approved exceptions reach agents: inside each group's signed policy,
// in its exceptions: section, with the window in absolute time from the
// collector's clock.
//
// Scope. An exception for one terminal is carried by the policy of the
// terminal's group (as of the request) and of each of its ancestors, so it
// reaches the terminal whichever of them governs it; the terminal id keeps
// every other terminal from using it. An exception for a group is carried by
// the policies of that group and of its descendants, like a ledger entry:
// when the group has no policy of its own, its terminals are governed by an
// ancestor's policy, which does not carry it.
//
// Ownership. The collector writes the exceptions with ids "EX-<n>" (n the
// request's id); an exception of the applied document with another id is
// kept as written, one with such an id is dropped (the request decides).
//
// Expiry. Only exceptions whose window has not ended are carried; an ended
// one drops out at the next version. Agents end it by themselves anyway.

// "EX-<id>".
std::string ExceptionPolicyId(int64_t request_id);

// The exceptions a policy of `group` carries, given the document's own and
// the approved requests not ended yet (ExceptionRepository::ApprovedExceptions):
// the document's exceptions the collector does not own, in their order, then
// the requests in scope, by id.
std::vector<DeviceException> MergedExceptions(const std::vector<DeviceException>& document,
                                              std::string_view group,
                                              const std::vector<ExceptionRequest>& approved);

// The document with MergedExceptions in place of its exceptions: section,
// the rest kept as written; returned unchanged, byte for byte, when the
// merge changes nothing. The result is checked by parsing it again.
Result<std::string> MergeExceptionsIntoPolicy(std::string_view yaml, std::string_view group,
                                              const std::vector<ExceptionRequest>& approved,
                                              std::string_view source_name);

}  // namespace mamori
