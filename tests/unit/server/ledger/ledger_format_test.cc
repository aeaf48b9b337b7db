// CSV, JST dates and field checks of the media ledger.

#include "server/ledger/ledger_format.h"

#include <gtest/gtest.h>

#include "common/base/jst_time.h"
#include "common/device/device.h"
#include "common/policy/policy.h"
#include "common/policy/policy_parser.h"

namespace mamori {
namespace {

// 2027-03-31 23:59:59.999 JST = 2027-03-31 14:59:59.999 UTC.
constexpr int64_t kEndOfMarch2027Jst = 1'806'505'199'999;

TEST(LedgerFormatTest, JstDayEndIsTheLastMillisecondOfTheJapaneseDay) {
  EXPECT_EQ(JstDayEndMs("2027-03-31"), kEndOfMarch2027Jst);
  EXPECT_FALSE(JstDayEndMs("2027-02-30"));
  EXPECT_FALSE(JstDayEndMs("2027/03/31"));
  EXPECT_FALSE(JstDayEndMs("27-03-31"));
  EXPECT_EQ(JstIso8601(kEndOfMarch2027Jst), "2027-03-31T23:59:59+09:00");
}

TEST(LedgerFormatTest, PolicyParserReadsTheExpiryInstantExactly) {
  auto p = ParsePolicy(
      "name: x\nregistered_media:\n  - {serial: \"S1\", vid_pid: \"0781:5581\", expires: "
      "\"2027-03-31T23:59:59+09:00\"}\n  - {serial: \"S2\", vid_pid: \"0781:5581\", expires: "
      "2027-03-31}\n  - {serial: \"S3\", vid_pid: \"0781:5581\", expires: "
      "\"2027-03-31T14:59:59Z\"}\n",
      "t.yaml");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->registered_media[0].expires_ms, kEndOfMarch2027Jst);
  EXPECT_EQ(p->registered_media[1].expires_ms, kEndOfMarch2027Jst + 9LL * 3600 * 1000);
  EXPECT_EQ(p->registered_media[2].expires_ms, kEndOfMarch2027Jst);
  for (const char* bad : {"2027-03-31T24:00:00+09:00", "2027-03-31T23:59:59",
                          "2027-03-31T23:59:59+9", "2027-02-30T00:00:00Z"}) {
    auto r = ParsePolicy(std::string("name: x\nregistered_media:\n  - {serial: S, vid_pid: "
                                     "\"0781:5581\", expires: \"") +
                             bad + "\"}\n",
                         "t.yaml");
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(LedgerFormatTest, VidPidAndFieldChecks) {
  EXPECT_EQ(ParseVidPid("0781:5581"), (std::pair<uint16_t, uint16_t>{0x0781, 0x5581}));
  EXPECT_EQ(ParseVidPid("ABCD:ef01"), (std::pair<uint16_t, uint16_t>{0xabcd, 0xef01}));
  EXPECT_FALSE(ParseVidPid("781:5581"));
  EXPECT_FALSE(ParseVidPid("0781-5581"));
  EXPECT_EQ(FormatVidPid(0xabcd, 0x1), "abcd:0001");

  LedgerEntry e;
  e.serial = "S1";
  e.group = "osaka/suita";
  EXPECT_TRUE(ValidateLedgerFields(e).ok());
  e.group = "";
  EXPECT_TRUE(ValidateLedgerFields(e).ok());
  e.group = "Osaka";
  EXPECT_NE(ValidateLedgerFields(e).error().message.find("group"), std::string::npos);
  e.group = "osaka";
  e.serial = "";
  EXPECT_NE(ValidateLedgerFields(e).error().message.find("serial"), std::string::npos);
  e.serial = "S\x01";
  EXPECT_NE(ValidateLedgerFields(e).error().message.find("serial"), std::string::npos);
  e.serial = "S1";
  e.owner = std::string(300, 'a');
  EXPECT_NE(ValidateLedgerFields(e).error().message.find("owner"), std::string::npos);
  e.owner = "\xff";
  EXPECT_NE(ValidateLedgerFields(e).error().message.find("owner"), std::string::npos);
}

TEST(LedgerFormatTest, ExportHasBomHeaderCrlfAndJstDates) {
  LedgerEntry e;
  e.serial = "=cmd|' /C calc'!A0";
  e.vendor_id = 0x0781;
  e.product_id = 0x5581;
  e.owner = "山田, 太郎";
  e.department = "保険課";
  e.group = "osaka/suita";
  e.expires_ms = kEndOfMarch2027Jst;
  e.note = "say \"hi\", then go";
  const std::string csv = LedgerToCsv({e});
  EXPECT_EQ(csv,
            "\xEF\xBB\xBF"
            "serial,vendor_id,product_id,owner,department,group,expires,note\r\n"
            "'=cmd|' /C calc'!A0,0781,5581,\"山田, 太郎\",保険課,osaka/suita,2027-03-31,"
            "\"say \"\"hi\"\", then go\"\r\n");
  // And it imports back to the same entry.
  const LedgerCsvImport back = ParseLedgerCsv(csv);
  ASSERT_TRUE(back.problems.empty()) << back.problems[0].message;
  ASSERT_EQ(back.entries.size(), 1u);
  const LedgerEntry& r = back.entries[0].second;
  EXPECT_EQ(r.serial, e.serial);
  EXPECT_EQ(r.owner, e.owner);
  EXPECT_EQ(r.note, e.note);
  EXPECT_EQ(r.expires_ms, e.expires_ms);
  EXPECT_EQ(r.group, e.group);
}

TEST(LedgerFormatTest, ImportReportsEveryBadLineWithItsNumber) {
  const LedgerCsvImport r = ParseLedgerCsv(
      "serial,vendor_id,product_id,owner,department,group,expires,note\n"
      "OK1,0781,5581,a,b,osaka,,\n"
      "BAD1,0781,55,a,b,osaka,,\n"
      "OK2,0781,5581,a,b,osaka,2027-03-31,\n"
      "BAD2,0781,5581,a,b,osaka,2027-13-01,\n"
      "BAD3,0781,5581,a,b,Osaka!,,\n"
      "BAD4,0781,5581\n"
      ",0781,5581,a,b,osaka,,\n");
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].first, 2u);
  EXPECT_EQ(r.entries[1].first, 4u);
  std::vector<uint32_t> lines;
  for (const auto& p : r.problems) lines.push_back(p.line);
  EXPECT_EQ(lines, (std::vector<uint32_t>{3, 5, 6, 7, 8}));

  EXPECT_EQ(ParseLedgerCsv("serial,vid\nA,B\n").problems.at(0).line, 1u);
  EXPECT_FALSE(ParseLedgerCsv("").problems.empty());
}

}  // namespace
}  // namespace mamori
