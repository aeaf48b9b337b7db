// libFuzzer target: the agent's event journal after a crash, a full disk or
// a terminal's root editing it. Whatever the bytes, parsing either refuses
// the header with a reason or yields whole, contiguous records and names
// the damage after them; what it yields encodes back into a journal that
// parses to the same events without damage.
//
// Records carry CRCs a fuzzer would almost never guess, so each input is
// parsed twice: as it is, and with every plausible record's CRC (and the
// header's) recomputed, which lets the mutations reach the protobuf
// decoding behind the checksum.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/outbox/journal_format.h"
#include "proto/wire/convert.h"

namespace {

uint32_t Crc(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

uint32_t GetLe32(const std::string& s, std::size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

void PutLe32(std::string& s, std::size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string WithValidChecksums(std::string bytes) {
  if (bytes.size() < mamori::kJournalHeaderBytes) return bytes;
  PutLe32(bytes, 20, Crc(std::string_view(bytes).substr(0, 20)));
  std::size_t at = mamori::kJournalHeaderBytes;
  while (bytes.size() - at >= mamori::kJournalRecordHeaderBytes) {
    const uint32_t len = GetLe32(bytes, at);
    if (len == 0 || len > bytes.size() - at - mamori::kJournalRecordHeaderBytes) break;
    PutLe32(bytes, at + 4,
            Crc(std::string_view(bytes).substr(at + mamori::kJournalRecordHeaderBytes, len)));
    at += mamori::kJournalRecordHeaderBytes + len;
  }
  return bytes;
}

void Check(const std::string& bytes) {
  auto parsed = mamori::ParseJournal(bytes, "fuzz.journal");
  if (!parsed.ok()) {
    if (parsed.error().message.rfind("fuzz.journal", 0) != 0) __builtin_trap();
    return;
  }
  const mamori::ParsedJournal& j = *parsed;
  // Whole records, one after the other from the end of the header.
  std::size_t at = mamori::kJournalHeaderBytes;
  for (const mamori::JournalRecord& r : j.records) {
    if (r.offset != at || r.bytes <= mamori::kJournalRecordHeaderBytes) __builtin_trap();
    if (r.event.seq == 0) __builtin_trap();
    at += r.bytes;
  }
  if (j.valid_bytes != at || j.valid_bytes > bytes.size()) __builtin_trap();
  // Damage is named exactly when bytes are left over.
  if (j.damage.empty() != (j.valid_bytes == bytes.size())) __builtin_trap();

  // What was read, written again, reads back the same and whole.
  std::string again = mamori::EncodeJournalHeader(j.next_seq_floor);
  for (const mamori::JournalRecord& r : j.records) {
    // A record's payload is the event as it decodes, encoded.
    if (!mamori::ParseEvent(r.payload)) __builtin_trap();
    if (!mamori::AppendJournalRecord(mamori::SerializeEvent(r.event), again).ok()) __builtin_trap();
  }
  auto reparsed = mamori::ParseJournal(again, "again");
  if (!reparsed.ok() || !reparsed->damage.empty()) __builtin_trap();
  if (reparsed->next_seq_floor != j.next_seq_floor) __builtin_trap();
  if (reparsed->records.size() != j.records.size()) __builtin_trap();
  for (std::size_t i = 0; i < j.records.size(); ++i) {
    const mamori::Event& a = j.records[i].event;
    const mamori::Event& b = reparsed->records[i].event;
    if (a.seq != b.seq || a.kind != b.kind || a.severity != b.severity || a.time_ms != b.time_ms ||
        a.detail != b.detail || a.user != b.user || a.device.has_value() != b.device.has_value()) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  Check(WithValidChecksums(bytes));
  return 0;
}
