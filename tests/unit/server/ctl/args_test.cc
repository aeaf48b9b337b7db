#include "server/ctl/args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mamori::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<OptionSpec> kSpecs = {
    {"dir", "DIR", "", false},
    {"dns", "NAME", "", true},
    {"force", "", "", false},
};

Result<ParsedArgs> Parse(std::vector<std::string> args) { return ParseArgs(args, kSpecs); }

TEST(ParseArgsTest, ValuesFlagsAndPositionals) {
  Result<ParsedArgs> r =
      Parse({"agent", "--dir", "/x", "--dns=a", "--dns", "b", "--force", "more"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->Get("dir"), "/x");
  EXPECT_THAT(r->GetAll("dns"), ElementsAre("a", "b"));
  EXPECT_TRUE(r->Has("force"));
  EXPECT_FALSE(r->Has("missing"));
  EXPECT_EQ(r->GetOr("missing", "fallback"), "fallback");
  EXPECT_THAT(r->positionals(), ElementsAre("agent", "more"));
}

TEST(ParseArgsTest, DoubleDashEndsOptions) {
  Result<ParsedArgs> r = Parse({"--", "--dir", "-x"});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->positionals(), ElementsAre("--dir", "-x"));
}

TEST(ParseArgsTest, ValueMayLookLikeAnOption) {
  Result<ParsedArgs> r = Parse({"--dir", "--force"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Get("dir"), "--force");
  EXPECT_FALSE(r->Has("force"));
}

TEST(ParseArgsTest, UsageErrors) {
  EXPECT_THAT(Parse({"--bogus"}).error().message, HasSubstr("unknown option --bogus"));
  EXPECT_THAT(Parse({"-x"}).error().message, HasSubstr("unknown option -x"));
  EXPECT_THAT(Parse({"--dir"}).error().message, HasSubstr("--dir needs a value (DIR)"));
  EXPECT_THAT(Parse({"--force=yes"}).error().message, HasSubstr("takes no value"));
  EXPECT_THAT(Parse({"--dir", "a", "--dir", "b"}).error().message, HasSubstr("more than once"));
  EXPECT_EQ(Parse({"--bogus"}).error().code, ErrorCode::kInvalidArgument);
}

TEST(ParseArgsTest, WantsHelp) {
  EXPECT_TRUE(WantsHelp(std::vector<std::string>{"a", "--help"}));
  EXPECT_TRUE(WantsHelp(std::vector<std::string>{"-h"}));
  EXPECT_FALSE(WantsHelp(std::vector<std::string>{"--", "--help"}));
  EXPECT_FALSE(WantsHelp(std::vector<std::string>{"--helpful"}));
}

TEST(ParseIntOptionTest, RangeAndSyntax) {
  EXPECT_EQ(*ParseIntOption("days", "30", 1, 100), 30);
  EXPECT_THAT(ParseIntOption("days", "0", 1, 100).error().message,
              HasSubstr("--days: must be between 1 and 100"));
  EXPECT_THAT(ParseIntOption("days", "3x", 1, 100).error().message,
              HasSubstr("not a whole number"));
  EXPECT_FALSE(ParseIntOption("days", "", 1, 100).ok());
  EXPECT_FALSE(ParseIntOption("days", " 3", 1, 100).ok());
}

}  // namespace
}  // namespace mamori::ctl
