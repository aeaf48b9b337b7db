#include "common/policy/unlock_code.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace mamori {
namespace {

constexpr int64_t kNow = 1'767'225'600'000LL + 300LL * 24 * 3600 * 1000;  // late 2026
constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kSkew = 5 * 60 * 1000;

UnlockScope Scope(std::string terminal = "T-0001", std::string deployment = "dep-a") {
  return UnlockScope{std::move(deployment), std::move(terminal), std::string(32, '\x42')};
}

UnlockDevice Stick() { return UnlockDevice{0x0781, 0x5581, "4C530001230101117543"}; }
UnlockDevice OtherStick() { return UnlockDevice{0x0781, 0x5581, "4C530001230101117544"}; }

std::string Issue(const UnlockScope& scope, const UnlockDevice& device,
                  int64_t expiry = kNow + 4 * kHour, uint32_t nonce = 7) {
  Result<std::string> code = IssueUnlockCode(scope, device, expiry, nonce);
  EXPECT_TRUE(code.ok()) << code.error().message;
  return code.ok() ? *code : std::string();
}

UnlockVerify Check(const std::string& code, const UnlockScope& scope,
                   const std::vector<UnlockDevice>& candidates, int64_t now = kNow) {
  UnlockParse parsed = ParseUnlockCode(code);
  EXPECT_TRUE(parsed.ok()) << parsed.error.message;
  return VerifyUnlockCode(parsed.fields, scope, candidates, now, kSkew);
}

TEST(UnlockCodeTest, FitsTwentyCharactersInThreeGroups) {
  const std::string code = Issue(Scope(), Stick());
  ASSERT_EQ(code.size(), 20u);
  EXPECT_EQ(code[6], '-');
  EXPECT_EQ(code[13], '-');
}

TEST(UnlockCodeTest, RoundTripsItsFields) {
  const std::string code = Issue(Scope(), Stick(), kNow + 4 * kHour + 59'999, 200);
  UnlockParse parsed = ParseUnlockCode(code);
  ASSERT_TRUE(parsed.ok()) << parsed.error.message;
  EXPECT_EQ(parsed.fields.version, kUnlockCodeVersion);
  EXPECT_EQ(parsed.fields.expiry_ms, kNow + 4 * kHour);  // whole minutes
  EXPECT_EQ(parsed.fields.nonce, 200u);
  EXPECT_EQ(FormatUnlockCode(parsed.fields), code);
}

TEST(UnlockCodeTest, AcceptsTheRightDeviceAmongOthers) {
  const std::string code = Issue(Scope(), Stick());
  UnlockVerify v = Check(code, Scope(), {OtherStick(), Stick()});
  ASSERT_TRUE(v.ok()) << v.error.message;
  EXPECT_EQ(v.device_index, 1u);
}

TEST(UnlockCodeTest, ReadsLowerCaseSpacesAndLookalikes) {
  std::string code = Issue(Scope(), Stick());
  std::string typed;
  for (char c : code) {
    if (c == '-') {
      typed += ' ';
    } else if (c == '0') {
      typed += 'o';
    } else if (c == '1') {
      typed += 'l';
    } else {
      typed += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  EXPECT_TRUE(Check(typed, Scope(), {Stick()}).ok());
}

TEST(UnlockCodeTest, RefusesAnotherDevice) {
  const std::string code = Issue(Scope(), Stick());
  UnlockVerify v = Check(code, Scope(), {OtherStick()});
  EXPECT_EQ(v.error.refusal, UnlockRefusal::kOtherDevice);
  EXPECT_NE(v.error.message.find("0781:5581 serial '4C530001230101117544'"), std::string::npos)
      << v.error.message;
  // Same serial, another model.
  UnlockDevice other_model = Stick();
  other_model.product_id = 0x5583;
  EXPECT_EQ(Check(code, Scope(), {other_model}).error.refusal, UnlockRefusal::kOtherDevice);
}

TEST(UnlockCodeTest, RefusesAnotherTerminal) {
  // Find a terminal whose public hint differs, and one whose hint collides
  // (1 in 8): the MAC still refuses it.
  const std::string code = Issue(Scope("T-0001"), Stick());
  int differing = 0, colliding = 0;
  for (int i = 2; i < 200; ++i) {
    const UnlockScope other = Scope("T-" + std::to_string(1000 + i));
    UnlockScope other_key = other;
    other_key.key = std::string(32, static_cast<char>(i));
    UnlockVerify v = Check(code, other_key, {Stick()});
    ASSERT_FALSE(v.ok());
    if (v.error.refusal == UnlockRefusal::kOtherTerminal) {
      ++differing;
      EXPECT_NE(v.error.message.find("another terminal"), std::string::npos);
    } else {
      EXPECT_EQ(v.error.refusal, UnlockRefusal::kOtherDevice);
      ++colliding;
    }
  }
  EXPECT_GT(differing, 100);
  EXPECT_GT(colliding, 0);
}

TEST(UnlockCodeTest, RefusesACodeFromAnotherDeployment) {
  const std::string code = Issue(Scope("T-0001", "dep-b"), Stick());
  int other_deployment = 0;
  for (int i = 0; i < 50; ++i) {
    UnlockScope here = Scope("T-0001", "dep-" + std::to_string(i));
    here.key = std::string(32, '\x01');
    UnlockVerify v = Check(code, here, {Stick()});
    ASSERT_FALSE(v.ok());
    if (v.error.refusal == UnlockRefusal::kOtherDeployment) {
      ++other_deployment;
      EXPECT_NE(v.error.message.find("deployment"), std::string::npos);
    }
  }
  EXPECT_GT(other_deployment, 20);
}

TEST(UnlockCodeTest, RefusesAnExpiredCodeWithTheTime) {
  const std::string code = Issue(Scope(), Stick(), kNow + kHour);
  UnlockVerify v = Check(code, Scope(), {Stick()}, kNow + kHour);
  EXPECT_EQ(v.error.refusal, UnlockRefusal::kExpired);
  EXPECT_NE(v.error.message.find("expired at"), std::string::npos);
  EXPECT_TRUE(Check(code, Scope(), {Stick()}, kNow + kHour - 1).ok());
}

TEST(UnlockCodeTest, RefusesAnExpiryMoreThanADayAhead) {
  const std::string code = Issue(Scope(), Stick(), kNow + 25 * kHour);
  EXPECT_EQ(Check(code, Scope(), {Stick()}).error.refusal, UnlockRefusal::kTooLong);
  EXPECT_TRUE(Check(code, Scope(), {Stick()}, kNow + 2 * kHour).ok());
}

TEST(UnlockCodeTest, NamesTheCharacterOfEveryOneCharacterTypo) {
  const std::string code = Issue(Scope(), Stick());
  const std::string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  int symbol = 0;
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i] == '-') continue;
    ++symbol;
    for (char c : alphabet) {
      if (c == code[i]) continue;
      std::string typo = code;
      typo[i] = c;
      UnlockParse p = ParseUnlockCode(typo);
      ASSERT_EQ(p.error.refusal, UnlockRefusal::kTypo) << typo;
      EXPECT_NE(p.error.message.find("typo at character " + std::to_string(symbol) + " "),
                std::string::npos)
          << p.error.message;
    }
  }
}

TEST(UnlockCodeTest, DetectsTwoChangedCharactersAndSwaps) {
  const std::string code = Issue(Scope(), Stick());
  std::string two = code;
  two[0] = two[0] == 'A' ? 'B' : 'A';
  two[9] = two[9] == 'C' ? 'D' : 'C';
  EXPECT_EQ(ParseUnlockCode(two).error.refusal, UnlockRefusal::kTypo);
  for (size_t i = 0; i + 1 < code.size(); ++i) {
    if (code[i] == '-' || code[i + 1] == '-' || code[i] == code[i + 1]) continue;
    std::string swapped = code;
    std::swap(swapped[i], swapped[i + 1]);
    EXPECT_EQ(ParseUnlockCode(swapped).error.refusal, UnlockRefusal::kTypo) << swapped;
  }
}

TEST(UnlockCodeTest, SaysWhatIsWrongWithTheShape) {
  const std::string code = Issue(Scope(), Stick());
  UnlockParse short_code = ParseUnlockCode(code.substr(0, 19));
  EXPECT_EQ(short_code.error.refusal, UnlockRefusal::kWrongLength);
  EXPECT_NE(short_code.error.message.find("has 17 characters"), std::string::npos);
  EXPECT_EQ(ParseUnlockCode(code + "7").error.refusal, UnlockRefusal::kWrongLength);
  EXPECT_EQ(ParseUnlockCode(std::string(200, 'A')).error.refusal, UnlockRefusal::kWrongLength);
  EXPECT_EQ(ParseUnlockCode("").error.refusal, UnlockRefusal::kWrongLength);

  std::string bad = code;
  bad[2] = 'U';
  UnlockParse u = ParseUnlockCode(bad);
  EXPECT_EQ(u.error.refusal, UnlockRefusal::kBadCharacter);
  EXPECT_NE(u.error.message.find("character 3 of the code ('U')"), std::string::npos)
      << u.error.message;
  bad[2] = '\x1b';
  EXPECT_NE(ParseUnlockCode(bad).error.message.find("byte 27"), std::string::npos);
}

TEST(UnlockCodeTest, RefusesAnUnknownVersion) {
  UnlockFields f;
  f.version = 2;
  f.expiry_ms = kNow;
  EXPECT_EQ(ParseUnlockCode(FormatUnlockCode(f)).error.refusal, UnlockRefusal::kUnsupportedVersion);
  f.version = 0;  // an all-zero code is never valid
  EXPECT_EQ(ParseUnlockCode(FormatUnlockCode(f)).error.refusal, UnlockRefusal::kUnsupportedVersion);
}

TEST(UnlockCodeTest, NoncesMakeDistinctCodes) {
  std::set<std::string> codes;
  for (uint32_t n = 0; n <= kUnlockMaxNonce; ++n)
    codes.insert(Issue(Scope(), Stick(), kNow + kHour, n));
  EXPECT_EQ(codes.size(), 256u);
}

TEST(UnlockCodeTest, IssuingRefusesWhatCannotBeBound) {
  EXPECT_FALSE(IssueUnlockCode(Scope(), UnlockDevice{0x0781, 0x5581, ""}, kNow + kHour, 1).ok());
  EXPECT_FALSE(IssueUnlockCode(Scope(), Stick(), kNow + kHour, 256).ok());
  EXPECT_FALSE(IssueUnlockCode(Scope(), Stick(), 0, 1).ok());
  UnlockScope no_key = Scope();
  no_key.key.clear();
  EXPECT_FALSE(IssueUnlockCode(no_key, Stick(), kNow + kHour, 1).ok());
}

TEST(UnlockCodeTest, RefusalsHaveStableNames) {
  EXPECT_EQ(UnlockRefusalName(UnlockRefusal::kReused), "reused");
  EXPECT_EQ(UnlockRefusalName(UnlockRefusal::kOtherDeployment), "other_deployment");
}

}  // namespace
}  // namespace mamori

namespace mamori {
namespace {

TEST(UnlockAcceptedDetailTest, RoundTripsTheCodeAndRefusesForgeries) {
  const std::string code =
      IssueUnlockCode({"d", "t", std::string(32, 'k')}, {1, 2, "s"}, kNow + kHour, 3).value();
  std::string lower = code;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string detail = FormatUnlockAcceptedDetail(lower, "0001:0002 serial 's'",
                                                        "2026-12-07T20:00", "uid 1000 (alice)");
  std::optional<UnlockUseReport> r = ParseUnlockAcceptedDetail(detail);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, code);
  EXPECT_EQ(r->requester, "uid 1000 (alice)");
  EXPECT_FALSE(ParseUnlockAcceptedDetail("unlock code 'NOTACODE' accepted: x").has_value());
  EXPECT_FALSE(ParseUnlockAcceptedDetail("device allowed").has_value());
  EXPECT_FALSE(ParseUnlockAcceptedDetail("unlock code '" + std::string(5000, 'A')).has_value());
}

}  // namespace
}  // namespace mamori
