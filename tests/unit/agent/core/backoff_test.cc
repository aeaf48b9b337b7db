#include "agent/core/backoff.h"

#include <gtest/gtest.h>

namespace mamori {
namespace {

using std::chrono::milliseconds;

// Just below 1: the delay sits at the top of its range.
constexpr double kTop = 0.999999;

TEST(BackoffTest, CeilingDoublesFromInitialUpToMax) {
  Backoff b(milliseconds(100), milliseconds(1000), [] { return kTop; });
  std::vector<int64_t> delays;
  for (int i = 0; i < 7; ++i) delays.push_back(b.Next().count());
  EXPECT_EQ(delays, (std::vector<int64_t>{99, 199, 399, 799, 999, 999, 999}));
}

TEST(BackoffTest, FullJitterScalesTheCeiling) {
  Backoff b(milliseconds(100), milliseconds(1000), [] { return 0.5; });
  EXPECT_EQ(b.Next(), milliseconds(50));
  EXPECT_EQ(b.Next(), milliseconds(100));
  EXPECT_EQ(b.Next(), milliseconds(200));
}

TEST(BackoffTest, ZeroRandomGivesZeroDelay) {
  Backoff b(milliseconds(100), milliseconds(1000), [] { return 0.0; });
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.Next(), milliseconds(0));
}

TEST(BackoffTest, ResetStartsAgainFromInitial) {
  Backoff b(milliseconds(100), milliseconds(1000), [] { return kTop; });
  b.Next();
  b.Next();
  b.Next();
  EXPECT_EQ(b.CurrentCeiling(), milliseconds(800));
  b.Reset();
  EXPECT_EQ(b.attempt(), 0);
  EXPECT_EQ(b.Next(), milliseconds(99));
}

TEST(BackoffTest, OutOfRangeRandomIsClamped) {
  Backoff high(milliseconds(100), milliseconds(1000), [] { return 7.0; });
  EXPECT_EQ(high.Next(), milliseconds(100));
  Backoff low(milliseconds(100), milliseconds(1000), [] { return -3.0; });
  EXPECT_EQ(low.Next(), milliseconds(0));
}

TEST(BackoffTest, LongOutageNeitherOverflowsNorExceedsMax) {
  Backoff b(milliseconds(1000), milliseconds(60000), [] { return kTop; });
  for (int i = 0; i < 10000; ++i) {
    const auto d = b.Next();
    ASSERT_GE(d.count(), 0);
    ASSERT_LE(d, milliseconds(60000));
  }
  EXPECT_EQ(b.CurrentCeiling(), milliseconds(60000));
  EXPECT_EQ(b.attempt(), Backoff::kMaxAttemptCount);
}

TEST(BackoffTest, DefaultRandomStaysWithinBounds) {
  Backoff b(milliseconds(10), milliseconds(80));
  for (int round = 0; round < 200; ++round) {
    const auto ceiling = b.CurrentCeiling();
    const auto d = b.Next();
    ASSERT_GE(d.count(), 0);
    ASSERT_LE(d, ceiling);
  }
}

}  // namespace
}  // namespace mamori
