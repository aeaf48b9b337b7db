#include "agent/outbox/journal_format.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "proto/wire/convert.h"

namespace mamori {
namespace {

Event MakeEvent(uint64_t seq, std::string detail) {
  Event e;
  e.seq = seq;
  e.time_ms = 1'760'000'000'000 + static_cast<int64_t>(seq);
  e.kind = EventKind::kDeviceBlocked;
  e.severity = Severity::kAlert;
  e.detail = std::move(detail);
  e.user = "alice";
  return e;
}

// A journal of `n` records; `offsets` gets where each record starts.
std::string Journal(int n, std::vector<std::size_t>* offsets = nullptr) {
  std::string out = EncodeJournalHeader(1);
  for (int i = 1; i <= n; ++i) {
    if (offsets) offsets->push_back(out.size());
    auto bytes = AppendJournalRecord(
        SerializeEvent(MakeEvent(static_cast<uint64_t>(i), "event " + std::to_string(i))), out);
    EXPECT_TRUE(bytes.ok());
  }
  return out;
}

TEST(JournalFormatTest, RoundTripsEventsAndTheSeqFloor) {
  std::string bytes = EncodeJournalHeader(42);
  ASSERT_EQ(bytes.size(), kJournalHeaderBytes);
  Event e = MakeEvent(42, "stick blocked");
  Device d;
  d.device_id = "stick";
  e.device = d;
  auto size = AppendJournalRecord(SerializeEvent(e), bytes);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(bytes.size(), kJournalHeaderBytes + *size);

  auto parsed = ParseJournal(bytes, "events.journal");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->next_seq_floor, 42u);
  EXPECT_TRUE(parsed->damage.empty());
  EXPECT_EQ(parsed->valid_bytes, bytes.size());
  ASSERT_EQ(parsed->records.size(), 1u);
  // The record holds what the collector receives, as the outbox sends it.
  EXPECT_EQ(parsed->records[0].payload, SerializeEvent(e));
  const Event& back = parsed->records[0].event;
  EXPECT_EQ(back.seq, 42u);
  EXPECT_EQ(back.time_ms, e.time_ms);
  EXPECT_EQ(back.kind, EventKind::kDeviceBlocked);
  EXPECT_EQ(back.severity, Severity::kAlert);
  EXPECT_EQ(back.detail, "stick blocked");
  EXPECT_EQ(back.user, "alice");
  ASSERT_TRUE(back.device.has_value());
  EXPECT_EQ(back.device->device_id, "stick");
}

TEST(JournalFormatTest, TailCutAtEveryOffsetOfTheLastRecordRecoversThePrevious) {
  std::vector<std::size_t> offsets;
  const std::string full = Journal(3, &offsets);
  for (std::size_t cut = offsets[2] + 1; cut < full.size(); ++cut) {
    auto parsed = ParseJournal(std::string_view(full).substr(0, cut), "j");
    ASSERT_TRUE(parsed.ok()) << cut;
    ASSERT_EQ(parsed->records.size(), 2u) << cut;
    EXPECT_EQ(parsed->valid_bytes, offsets[2]) << cut;
    EXPECT_NE(parsed->damage.find("offset " + std::to_string(offsets[2])), std::string::npos)
        << parsed->damage;
  }
  // Cut exactly at a record boundary: nothing is damaged.
  auto parsed = ParseJournal(std::string_view(full).substr(0, offsets[2]), "j");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->damage.empty());
  EXPECT_EQ(parsed->records.size(), 2u);
}

TEST(JournalFormatTest, FlippedByteStopsAtTheLastValidRecordBeforeIt) {
  std::vector<std::size_t> offsets;
  const std::string full = Journal(5, &offsets);
  // Every byte of the third record: its length, its checksum, its payload.
  for (std::size_t at = offsets[2]; at < offsets[3]; ++at) {
    std::string bytes = full;
    bytes[at] = static_cast<char>(bytes[at] ^ 0x20);
    auto parsed = ParseJournal(bytes, "j");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->records.size(), 2u) << at;
    EXPECT_EQ(parsed->valid_bytes, offsets[2]) << at;
    EXPECT_FALSE(parsed->damage.empty()) << at;
  }
}

TEST(JournalFormatTest, AbsurdLengthIsDamageNotAnAllocation) {
  std::string bytes = Journal(1);
  const std::size_t good = bytes.size();
  bytes += std::string("\xff\xff\xff\x7f\0\0\0\0", 8);
  bytes += "xyz";
  auto parsed = ParseJournal(bytes, "j");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->records.size(), 1u);
  EXPECT_EQ(parsed->valid_bytes, good);
  EXPECT_NE(parsed->damage.find("implausible length"), std::string::npos) << parsed->damage;
}

TEST(JournalFormatTest, GarbageHeaderIsAnErrorNamingTheFile) {
  for (const std::string& bytes :
       {std::string("garbage that is no journal at all"), std::string("MAM"), std::string()}) {
    auto parsed = ParseJournal(bytes, "/var/lib/mamori/events.journal");
    ASSERT_FALSE(parsed.ok()) << bytes;
    EXPECT_NE(parsed.error().message.find("/var/lib/mamori/events.journal"), std::string::npos);
  }
  std::string damaged = EncodeJournalHeader(7);
  damaged[14] ^= 1;
  auto parsed = ParseJournal(damaged, "j");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("damaged journal header"), std::string::npos);
}

TEST(JournalFormatTest, UnknownVersionIsRefused) {
  // A newer agent's journal: version 2, with a valid header checksum.
  std::string bytes = EncodeJournalHeader(1).substr(0, 20);
  bytes[8] = 2;
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), 20);
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  auto parsed = ParseJournal(bytes, "j");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("version 2 is not supported"), std::string::npos)
      << parsed.error().message;
}

TEST(JournalFormatTest, OversizedEventIsRefused) {
  std::string out;
  auto size = AppendJournalRecord(
      SerializeEvent(MakeEvent(1, std::string(kJournalMaxPayloadBytes + 1, 'x'))), out);
  EXPECT_FALSE(size.ok());
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace mamori
