#include "agent/core/renewal_schedule.h"

#include <gtest/gtest.h>

namespace mamori {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kHour = 3600LL * 1000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kStart = 1'760'000'000'000;

// Backoff draws its maximum: delays are exact.
RenewalSchedule Schedule(int64_t life_ms) {
  return RenewalSchedule(kStart, kStart + life_ms, milliseconds(1000), milliseconds(60'000),
                         [] { return 0.999999; });
}

TEST(RenewalScheduleTest, RenewsAtTwoThirdsAndAlarmsInTheLastSixth) {
  RenewalSchedule s = Schedule(30 * kDay);
  EXPECT_EQ(s.renew_at_ms(), kStart + 20 * kDay);
  EXPECT_EQ(s.alarm_from_ms(), kStart + 25 * kDay);
  EXPECT_FALSE(s.Due(kStart + 20 * kDay - 1));
  EXPECT_TRUE(s.Due(kStart + 20 * kDay));
}

TEST(RenewalScheduleTest, FiveMinuteLife) {
  RenewalSchedule s = Schedule(5 * 60 * 1000);
  EXPECT_EQ(s.renew_at_ms(), kStart + 200'000);
  EXPECT_EQ(s.alarm_from_ms(), kStart + 250'000);
}

TEST(RenewalScheduleTest, FailureWaitsACappedGrowingBackoff) {
  RenewalSchedule s = Schedule(30 * kDay);
  int64_t now = s.renew_at_ms();
  s.Failed(now);
  EXPECT_FALSE(s.Due(now + 998));
  EXPECT_TRUE(s.Due(now + 1000));
  now += 1000;
  s.Failed(now);
  EXPECT_GE(s.next_attempt_ms(), now + 1990);  // 2 s ceiling, drawn near the top
  EXPECT_LE(s.next_attempt_ms(), now + 2000);
  for (int i = 0; i < 20; ++i) s.Failed(now);
  EXPECT_LE(s.next_attempt_ms(), now + 60'000);
  EXPECT_GE(s.next_attempt_ms(), now + 59'000);
  EXPECT_EQ(s.failures(), 22);
}

TEST(RenewalScheduleTest, NoAlarmBeforeTheLastSixthOrWithoutAFailure) {
  RenewalSchedule s = Schedule(30 * kDay);
  EXPECT_FALSE(s.AlarmDue(s.alarm_from_ms() + kHour));  // nothing failed yet
  s.Failed(s.renew_at_ms());
  EXPECT_FALSE(s.AlarmDue(s.alarm_from_ms() - 1));
  EXPECT_TRUE(s.AlarmDue(s.alarm_from_ms()));
}

TEST(RenewalScheduleTest, AlarmRepeatsAboutDaily) {
  RenewalSchedule s = Schedule(30 * kDay);
  s.Failed(s.renew_at_ms());
  const int64_t first = s.alarm_from_ms() + 10;
  ASSERT_TRUE(s.AlarmDue(first));
  s.AlarmRaised(first);
  EXPECT_FALSE(s.AlarmDue(first + kDay - 1));
  EXPECT_TRUE(s.AlarmDue(first + kDay));
}

TEST(RenewalScheduleTest, ShortLivesRepeatTheAlarmWithinTheirLastSixth) {
  RenewalSchedule s = Schedule(6 * kHour);  // last sixth: one hour
  s.Failed(s.renew_at_ms());
  const int64_t first = s.alarm_from_ms();
  s.AlarmRaised(first);
  EXPECT_FALSE(s.AlarmDue(first + kHour - 1));
  EXPECT_TRUE(s.AlarmDue(first + kHour));
}

TEST(RenewalScheduleTest, ExpiredCertificateIsDueAtOnce) {
  RenewalSchedule s = Schedule(kDay);
  EXPECT_TRUE(s.Due(kStart + 2 * kDay));
}

}  // namespace
}  // namespace mamori
