#include "agent/platform/windows/win32/session_user.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace mamori {
namespace {

class FakeWts final : public WtsApi {
 public:
  std::optional<uint32_t> ActiveConsoleSession() override { return session; }
  std::optional<std::string> UserName(uint32_t s) override {
    queried = s;
    return user;
  }
  std::optional<std::string> DomainName(uint32_t) override { return domain; }

  std::optional<uint32_t> session = 1;
  std::optional<std::string> user = "tanaka";
  std::optional<std::string> domain = "SUITA";
  uint32_t queried = 0;
};

TEST(FormatSessionUserTest, DomainAndUser) {
  EXPECT_EQ(FormatSessionUser("SUITA", "tanaka"), "SUITA\\tanaka");
  EXPECT_EQ(FormatSessionUser("", "tanaka"), "tanaka");
  EXPECT_EQ(FormatSessionUser("SUITA", ""), "");
  EXPECT_EQ(FormatSessionUser("", ""), "");
}

TEST(FormatSessionUserTest, HostileNamesAreMadeSafeAndBounded) {
  const std::string out = FormatSessionUser("D", "evil\n\x1b[31m");
  EXPECT_EQ(out.find('\n'), std::string::npos);
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_LE(FormatSessionUser(std::string(1000, 'D'), std::string(1000, 'u')).size(),
            kMaxSessionUserBytes);
  // Japanese account names survive intact.
  EXPECT_EQ(FormatSessionUser("SUITA", "\xE7\x94\xB0\xE4\xB8\xAD"),
            "SUITA\\\xE7\x94\xB0\xE4\xB8\xAD");
}

TEST(WtsSessionUserTest, ConsoleSessionUser) {
  FakeWts wts;
  wts.session = 3;
  WtsSessionUser u(&wts);
  EXPECT_EQ(u.Current(), "SUITA\\tanaka");
  EXPECT_EQ(wts.queried, 3u);
}

TEST(WtsSessionUserTest, NoConsoleSessionIsNoUser) {
  FakeWts wts;
  wts.session = std::nullopt;
  EXPECT_EQ(WtsSessionUser(&wts).Current(), "");
}

TEST(WtsSessionUserTest, NobodyLoggedOnIsNoUser) {
  // At the logon screen the console session exists with an empty user.
  FakeWts wts;
  wts.user = "";
  EXPECT_EQ(WtsSessionUser(&wts).Current(), "");
  wts.user = std::nullopt;
  EXPECT_EQ(WtsSessionUser(&wts).Current(), "");
}

TEST(WtsSessionUserTest, FailedDomainQueryStillNamesTheUser) {
  FakeWts wts;
  wts.domain = std::nullopt;
  EXPECT_EQ(WtsSessionUser(&wts).Current(), "tanaka");
}

}  // namespace
}  // namespace mamori
