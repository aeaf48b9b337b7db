#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/policy/policy.h"
#include "server/store/store.h"

namespace mamori {

// How the media ledger reaches agents: inside each group's signed policy.
//
// Scope. A ledger entry applies to its group and the group's descendants.
// Agents honour only what their policy lists, and the policy of a group P
// also governs every descendant without a policy of its own, so P's policy
// carries exactly the active entries whose scope contains P (the scope is P
// or an ancestor of P, or the whole deployment). An entry scoped below P
// is not in P's policy: it would also let the medium into P's other
// subgroups. Such an entry takes effect on terminals governed by a policy
// at or below its scope; LedgerScopeWarnings says when that is none.
//
// Authority. For any medium the ledger knows (same serial and vid:pid, in
// any entry, active or retired, any scope) the ledger alone decides: an
// entry for it written in an applied document is dropped, so retiring a
// lost stick revokes it everywhere. Entries of the document for media the
// ledger does not know stay as written (policies that predate the ledger
// keep working).
//
// Expiry. Entries keep their expiry (the end of the JST day) and the
// agents' rule engine stops matching them after it; an expired entry is not
// dropped, so an entry passing its date never needs a new policy version.

// The registered media a policy of `group` carries, given the media of the
// document the admin applied and the whole ledger (retired entries too):
// the document's entries the ledger does not know, in their order, then the
// ledger's active entries in scope by id (one per medium: the one that
// expires last).
std::vector<RegisteredMedium> MergedMedia(const std::vector<RegisteredMedium>& document_media,
                                          std::string_view group,
                                          const std::vector<LedgerEntry>& ledger);

// `yaml` with its registered_media section replaced by `media`, one flow
// mapping per line. The rest of the document is kept as written, comments
// included, when its top level is a block mapping; otherwise the whole
// document is re-emitted. The result is checked by parsing it again.
Result<std::string> ReplaceRegisteredMedia(std::string_view yaml,
                                           const std::vector<RegisteredMedium>& media,
                                           std::string_view source_name);

// The document to store and sign for `group`: `source_yaml` (as the admin
// applied it; must be a valid policy) with MergedMedia in place of its
// registered media. Returned unchanged, byte for byte, when the merge
// changes nothing.
Result<std::string> MergeLedgerIntoPolicy(std::string_view source_yaml, std::string_view group,
                                          const std::vector<LedgerEntry>& ledger,
                                          std::string_view source_name);

// Warnings for an entry scoped to `scope` when `policy_groups` (the groups
// with a policy of their own) leave terminals under the scope governed by
// an ancestor's policy, which does not carry the entry.
std::vector<std::string> LedgerScopeWarnings(std::string_view scope,
                                             const std::vector<std::string>& policy_groups);

}  // namespace mamori
