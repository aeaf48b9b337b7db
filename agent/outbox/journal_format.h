#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/device/event.h"

namespace mamori {

// The byte format of the agent's event journal, as pure functions:
//
//   header  "MAMORIEJ" | u32 version | u64 next_seq_floor | u32 crc32 of the 20 bytes before
//   record  u32 payload_len | u32 crc32(payload) | payload (a mamori.v1.Event)
//
// Integers are little-endian. next_seq_floor is written when the journal is
// (re)created: no seq below it may be issued again, even when no record
// shows it any more. A record whose seq is already in the journal
// supersedes the earlier one (an overflow marker's count going up).

inline constexpr std::size_t kJournalHeaderBytes = 24;
inline constexpr std::size_t kJournalRecordHeaderBytes = 8;
inline constexpr uint32_t kJournalFormatVersion = 1;
// Larger lengths are damage, not events.
inline constexpr uint32_t kJournalMaxPayloadBytes = 1u << 20;

std::string EncodeJournalHeader(uint64_t next_seq_floor);

// Appends the record of an event whose payload (SerializeEvent of
// proto/wire/convert.h: what the collector receives) is `payload` to `out`
// and returns its size; an error (nothing appended) when the payload
// exceeds kJournalMaxPayloadBytes.
Result<std::size_t> AppendJournalRecord(std::string_view payload, std::string& out);

struct JournalRecord {
  Event event;
  std::string payload;  // the record's payload as read: `event`, encoded
  std::size_t offset = 0;
  std::size_t bytes = 0;  // header included
};

struct ParsedJournal {
  uint64_t next_seq_floor = 1;
  std::vector<JournalRecord> records;
  // Header and whole valid records: everything after is a damaged tail.
  std::size_t valid_bytes = 0;
  // Why parsing stopped before the end ("record at offset 96: checksum
  // mismatch"); empty when it did not.
  std::string damage;
};

// Reads records up to the first truncated, implausibly long, corrupt or
// undecodable one. Errors only for a header that is not a readable journal
// header; messages start with `name` (the file's path).
Result<ParsedJournal> ParseJournal(std::string_view bytes, std::string_view name);

}  // namespace mamori
