#include "common/crypto/identity.h"

#include <gtest/gtest.h>

#include <string>

namespace mamori {
namespace {

TEST(IdentityTest, FormatsUris) {
  EXPECT_EQ(FormatIdentityUri(PeerRole::kTerminal, "suita-hoken-0012"),
            "mamori://terminal/suita-hoken-0012");
  EXPECT_EQ(FormatIdentityUri(PeerRole::kAdmin, "ciso.tanaka"), "mamori://admin/ciso.tanaka");
  EXPECT_EQ(FormatIdentityUri(PeerRole::kCollector, "c1"), "mamori://collector/c1");
  EXPECT_EQ(FormatGroupUri("osaka/suita/hoken"), "mamori://group/osaka/suita/hoken");
  EXPECT_EQ(PeerRoleName(PeerRole::kTerminal), "terminal");
  EXPECT_EQ(PeerRoleName(PeerRole::kAdmin), "admin");
  EXPECT_EQ(PeerRoleName(PeerRole::kCollector), "collector");
}

TEST(IdentityTest, ParsesWhatItFormats) {
  for (PeerRole role : {PeerRole::kTerminal, PeerRole::kAdmin, PeerRole::kCollector}) {
    const auto parsed = ParseIdentityUri(FormatIdentityUri(role, "T-01_a.b"));
    ASSERT_TRUE(parsed.has_value()) << PeerRoleName(role);
    EXPECT_EQ(parsed->role, role);
    EXPECT_EQ(parsed->id, "T-01_a.b");
  }
  EXPECT_EQ(ParseGroupUri(FormatGroupUri("osaka/suita")), "osaka/suita");
}

TEST(IdentityTest, RejectsMalformedIdentityUris) {
  for (const char* bad :
       {"", "mamori://", "mamori://terminal", "mamori://terminal/", "mamori://printer/x",
        "Mamori://terminal/x", "mamori:/terminal/x", "https://terminal/x", "mamori://terminal/a/b",
        "mamori://terminal/a b", "mamori://terminal/山田", "mamori://group/osaka",
        "mamori://TERMINAL/x", " mamori://terminal/x"}) {
    EXPECT_FALSE(ParseIdentityUri(bad).has_value()) << bad;
  }
  // A NUL inside the id must not truncate it into a valid one.
  EXPECT_FALSE(ParseIdentityUri(std::string_view("mamori://terminal/t1\0x", 22)).has_value());
}

TEST(IdentityTest, IdLengthLimits) {
  EXPECT_TRUE(IsValidId(std::string(128, 'a')));
  EXPECT_FALSE(IsValidId(std::string(129, 'a')));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_TRUE(IsValidId("a"));
  EXPECT_FALSE(IsValidId("a/b"));
  EXPECT_FALSE(IsValidId("a:b"));
  EXPECT_TRUE(ParseIdentityUri("mamori://terminal/" + std::string(128, 'x')).has_value());
  EXPECT_FALSE(ParseIdentityUri("mamori://terminal/" + std::string(129, 'x')).has_value());
}

TEST(IdentityTest, GroupValidation) {
  for (const char* good : {"osaka", "osaka/suita/hoken", "a-b_c/0-9", "x"}) {
    EXPECT_TRUE(IsValidGroup(good)) << good;
  }
  for (const char* bad : {"", "/osaka", "osaka/", "osaka//suita", "Osaka", "osaka/su ita",
                          "osaka.suita", "大阪", "/"}) {
    EXPECT_FALSE(IsValidGroup(bad)) << bad;
    EXPECT_FALSE(ParseGroupUri(std::string("mamori://group/") + bad).has_value()) << bad;
  }
  EXPECT_TRUE(IsValidGroup(std::string(255, 'g')));
  EXPECT_FALSE(IsValidGroup(std::string(256, 'g')));
  EXPECT_FALSE(ParseGroupUri("mamori://terminal/osaka").has_value());
}

TEST(IdentityTest, GroupContainment) {
  EXPECT_TRUE(GroupContains("", "osaka/suita"));
  EXPECT_TRUE(GroupContains("", ""));
  EXPECT_TRUE(GroupContains("osaka", "osaka"));
  EXPECT_TRUE(GroupContains("osaka", "osaka/suita"));
  EXPECT_TRUE(GroupContains("osaka", "osaka/suita/hoken"));
  EXPECT_TRUE(GroupContains("osaka/suita", "osaka/suita/hoken"));
  // A shared prefix is not containment.
  EXPECT_FALSE(GroupContains("osaka/suita", "osaka/suitashi"));
  EXPECT_FALSE(GroupContains("osaka", "osakafu"));
  EXPECT_FALSE(GroupContains("osaka/suita", "osaka"));
  EXPECT_FALSE(GroupContains("osaka/suita", "osaka/toyonaka"));
  EXPECT_FALSE(GroupContains("osaka", ""));
}

}  // namespace
}  // namespace mamori
