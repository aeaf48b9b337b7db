#include "agent/outbox/journal_format.h"

#include <zlib.h>

#include <algorithm>

#include "proto/wire/convert.h"

namespace mamori {
namespace {

constexpr std::string_view kMagic = "MAMORIEJ";

uint32_t Crc32(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(crc32_z(0, nullptr, 0), reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLe(std::string_view in, std::size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]))
         << (8 * i);
  }
  return v;
}

}  // namespace

std::string EncodeJournalHeader(uint64_t next_seq_floor) {
  std::string out(kMagic);
  PutLe(out, kJournalFormatVersion, 4);
  PutLe(out, next_seq_floor, 8);
  PutLe(out, Crc32(out), 4);
  return out;
}

Result<std::size_t> AppendJournalRecord(std::string_view payload, std::string& out) {
  if (payload.size() > kJournalMaxPayloadBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "an event of " + std::to_string(payload.size()) +
                                                      " bytes is more than a journal record holds");
  }
  PutLe(out, payload.size(), 4);
  PutLe(out, Crc32(payload), 4);
  out += payload;
  return kJournalRecordHeaderBytes + payload.size();
}

Result<ParsedJournal> ParseJournal(std::string_view bytes, std::string_view name) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     std::string(name) + ": " + why +
                         "; move the file aside to start a new journal (its events are lost)");
  };
  if (bytes.size() < kJournalHeaderBytes) {
    if (bytes.substr(0, std::min(bytes.size(), kMagic.size())) != kMagic.substr(0, bytes.size())) {
      return bad("not a Mamori event journal (bad magic)");
    }
    return bad("truncated journal header (" + std::to_string(bytes.size()) + " bytes)");
  }
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return bad("not a Mamori event journal (bad magic)");
  }
  if (GetLe(bytes, 20, 4) != Crc32(bytes.substr(0, 20))) {
    return bad("damaged journal header (checksum mismatch)");
  }
  const uint64_t version = GetLe(bytes, 8, 4);
  if (version != kJournalFormatVersion) {
    return bad("journal format version " + std::to_string(version) +
               " is not supported (this agent reads version " +
               std::to_string(kJournalFormatVersion) + ")");
  }
  ParsedJournal out;
  out.next_seq_floor = GetLe(bytes, 12, 8);
  std::size_t at = kJournalHeaderBytes;
  while (at < bytes.size()) {
    const std::string where = "record at offset " + std::to_string(at) + ": ";
    const std::size_t left = bytes.size() - at;
    if (left < kJournalRecordHeaderBytes) {
      out.damage = where + "truncated header";
      break;
    }
    const uint64_t len = GetLe(bytes, at, 4);
    if (len == 0 || len > kJournalMaxPayloadBytes) {
      out.damage = where + "implausible length " + std::to_string(len);
      break;
    }
    if (left - kJournalRecordHeaderBytes < len) {
      out.damage = where + "truncated (" + std::to_string(left) + " of " +
                   std::to_string(kJournalRecordHeaderBytes + len) + " bytes)";
      break;
    }
    const std::string_view payload = bytes.substr(at + kJournalRecordHeaderBytes, len);
    if (GetLe(bytes, at + 4, 4) != Crc32(payload)) {
      out.damage = where + "checksum mismatch";
      break;
    }
    std::optional<Event> event = ParseEvent(payload);
    if (!event) {
      out.damage = where + "not an event";
      break;
    }
    const std::size_t record_bytes = kJournalRecordHeaderBytes + len;
    out.records.push_back(JournalRecord{std::move(*event), std::string(payload), at, record_bytes});
    at += record_bytes;
  }
  // `at` only ever moves past a valid record.
  out.valid_bytes = at;
  return out;
}

}  // namespace mamori
