#pragma once

// What an agent recorded against what the collector stored: the checks of
// "exactly once and in order" shared by the Linux fault tests and the
// Windows agent's Wine tests.
//
// "What the agent recorded" is read from its own journal (the highest seq
// it ever issued); "what the collector stored" from its SQLite file, opened
// read-only. Exactly once and in order means: the stored seqs of a terminal
// are 1..N without a gap or a repeat, N is the journal's highest seq, and
// the events were stored in seq order.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace mamori::testing {

// The agent's journal in `state_dir`: the highest seq it has issued, whether
// the record is still there or was acknowledged and compacted away (the
// header's floor keeps that). 0 when there is no readable journal yet.
uint64_t JournalHighestSeq(const std::string& state_dir);
// The collector's last acknowledgement as the agent persisted it.
uint64_t AckedSeq(const std::string& state_dir);
inline uint64_t JournalHighestSeq(const AgentProcess& a) {
  return JournalHighestSeq(a.state_dir());
}
inline uint64_t AckedSeq(const AgentProcess& a) { return AckedSeq(a.state_dir()); }

struct StoredRow {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  int64_t received_ms = 0;
  int64_t rowid = 0;  // insertion order
  std::string kind;
  std::string serial;
};

// Every stored event of `terminal` in seq order, read straight from the
// database file (read-only; WAL lets this run beside the collector).
std::vector<StoredRow> StoredEvents(const std::string& db_path, const std::string& terminal);

// Exactly once, in order: seqs 1..expected each once, stored (rowid) and
// received in seq order. GoogleTest assertions.
void ExpectExactlyOnceInOrder(const std::vector<StoredRow>& rows, uint64_t expected,
                              const std::string& terminal);

// What the agent's journal had issued and what the collector held, read
// together once they agreed.
struct Delivered {
  uint64_t recorded = 0;
  std::vector<StoredRow> rows;
};

// Waits until the collector holds every event the agent's journal (in
// `state_dir`) issued: the agent is idle and has delivered everything. The
// agent may still be recording the last changes of a flood, so the figures
// checked afterwards are the ones that agreed here, not a later, racing
// re-read.
bool WaitDelivered(const CollectorProcess& collector, const std::string& state_dir,
                   const std::string& terminal, std::chrono::milliseconds timeout, Delivered* out);
inline bool WaitDelivered(const CollectorProcess& collector, const AgentProcess& agent,
                          std::chrono::milliseconds timeout, Delivered* out) {
  return WaitDelivered(collector, agent.state_dir(), agent.id(), timeout, out);
}

}  // namespace mamori::testing
