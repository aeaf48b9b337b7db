#pragma once

#include <cstdint>

#include "common/base/result.h"
#include "mamori/v1/agent.pb.h"
#include "server/ingest/ingest_limits.h"

namespace mamori {

// The checks every value an agent declares passes at the service boundary
// (bounds in ingest_limits.h). Pure functions over the received message:
// each returns Ok or an error (kInvalidArgument, or kResourceExhausted for
// counts) whose message names the field, the value and the bound.

// Everything in a state report except its clock (CheckAgentClock), which
// the service records when it refuses. `latest_policy_version` is the
// newest version the collector has issued (0 = none).
Status ValidateStateReport(const v1::StateReport& report, const CollectorLimits& limits,
                           uint64_t latest_policy_version);

// The agent's clock at `agent_time_ms` against the collector's `now_ms`:
// refused when more than kMaxAgentClockOffsetMs apart.
Status CheckAgentClock(int64_t agent_time_ms, int64_t now_ms);

// Counts, sequence numbers (>= 1, strictly increasing, at most
// kMaxEventSeq) and times of an event batch. The seq window against what is
// stored is CheckSeqWindow's.
Status ValidateEventBatch(const v1::EventBatch& batch, const CollectorLimits& limits,
                          int64_t now_ms);

// The batch's highest seq against the terminal's acknowledged seq: at most
// kMaxEventSeqAhead beyond it.
Status CheckSeqWindow(uint64_t highest_seq, uint64_t acked_through);

// The version an agent says it enforces when it opens a policy stream.
Status ValidateWatchRequest(const v1::WatchPolicyRequest& request, uint64_t latest_policy_version);

}  // namespace mamori
