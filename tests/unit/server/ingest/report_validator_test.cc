#include "server/ingest/report_validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "proto/wire/convert.h"

namespace mamori {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'780'000'000'000;  // 2026-05-28
constexpr int64_t kDay = 24LL * 3600 * 1000;

v1::StateReport Report() {
  v1::StateReport r;
  r.set_report_interval_seconds(60);
  r.set_applied_policy_version(3);
  SetMs(kNow, r.mutable_agent_time());
  auto* d = r.add_devices();
  d->set_device_id("1-1");
  d->mutable_identity()->add_interface_classes(v1::DEVICE_CLASS_HID);
  return r;
}

v1::EventBatch Batch(std::initializer_list<uint64_t> seqs, int64_t time_ms = kNow) {
  v1::EventBatch b;
  for (uint64_t seq : seqs) {
    auto* e = b.add_events();
    e->set_seq(seq);
    SetMs(time_ms, e->mutable_time());
  }
  return b;
}

void ExpectRefused(const Status& s, ErrorCode code, const std::string& field) {
  ASSERT_FALSE(s.ok()) << "accepted; expected a refusal naming " << field;
  EXPECT_EQ(s.error().code, code) << s.error().message;
  EXPECT_THAT(s.error().message, HasSubstr(field));
}

TEST(ValidateStateReportTest, HonestReportPasses) {
  EXPECT_TRUE(ValidateStateReport(Report(), {}, 3).ok());
}

TEST(ValidateStateReportTest, ReportIntervalOutsideTheAgentsOwnBoundsIsRefused) {
  v1::StateReport r = Report();
  for (uint32_t bad :
       {uint32_t{86'401}, uint32_t{7 * 86'400}, std::numeric_limits<uint32_t>::max()}) {
    r.set_report_interval_seconds(bad);
    const Status s = ValidateStateReport(r, {}, 3);
    ExpectRefused(s, ErrorCode::kInvalidArgument, "report_interval_seconds");
    EXPECT_THAT(s.error().message, AllOf(HasSubstr(std::to_string(bad)), HasSubstr("1..86400")));
  }
  for (uint32_t good : {uint32_t{0}, kMinReportIntervalSeconds, kMaxReportIntervalSeconds}) {
    r.set_report_interval_seconds(good);
    EXPECT_TRUE(ValidateStateReport(r, {}, 3).ok()) << good;
  }
}

TEST(ValidateStateReportTest, TooManyDevicesAndInterfacesAreRefused) {
  CollectorLimits limits;
  limits.max_devices_per_report = 2;
  v1::StateReport r = Report();
  r.add_devices();
  EXPECT_TRUE(ValidateStateReport(r, limits, 3).ok());
  r.add_devices();
  ExpectRefused(ValidateStateReport(r, limits, 3), ErrorCode::kResourceExhausted, "devices has 3");

  v1::StateReport wide = Report();
  for (int i = 0; i < kMaxInterfacesPerDevice; ++i) {
    wide.mutable_devices(0)->mutable_identity()->add_interface_classes(v1::DEVICE_CLASS_HID);
  }
  ExpectRefused(ValidateStateReport(wide, {}, 3), ErrorCode::kResourceExhausted,
                "devices[0].identity.interface_classes");
  v1::StateReport allowed = Report();
  for (int i = 0; i <= kMaxInterfacesPerDevice; ++i) {
    allowed.mutable_devices(0)->mutable_decision()->add_allowed_interface_classes(
        v1::DEVICE_CLASS_HID);
  }
  ExpectRefused(ValidateStateReport(allowed, {}, 3), ErrorCode::kResourceExhausted,
                "devices[0].decision.allowed_interface_classes");
}

TEST(ValidateStateReportTest, PolicyVersionNeverIssuedIsRefused) {
  v1::StateReport r = Report();
  r.set_applied_policy_version(4);
  ExpectRefused(ValidateStateReport(r, {}, 3), ErrorCode::kInvalidArgument,
                "applied_policy_version 4");
  r.set_applied_policy_version(std::numeric_limits<uint64_t>::max());
  ExpectRefused(ValidateStateReport(r, {}, 3), ErrorCode::kInvalidArgument,
                "applied_policy_version");
  r.set_applied_policy_version(0);
  EXPECT_TRUE(ValidateStateReport(r, {}, 0).ok());
}

TEST(CheckAgentClockTest, WithinThirtyDaysPassesBeyondIsRefusedEitherWay) {
  EXPECT_TRUE(CheckAgentClock(kNow, kNow).ok());
  EXPECT_TRUE(CheckAgentClock(kNow + 30 * kDay, kNow).ok());
  EXPECT_TRUE(CheckAgentClock(kNow - 30 * kDay, kNow).ok());
  const Status ahead = CheckAgentClock(kNow + 365 * kDay, kNow);
  ExpectRefused(ahead, ErrorCode::kInvalidArgument, "agent_time");
  EXPECT_THAT(ahead.error().message, AllOf(HasSubstr("365 days ahead"), HasSubstr("30 days")));
  const Status behind = CheckAgentClock(kNow - 31 * kDay, kNow);
  EXPECT_THAT(behind.error().message, HasSubstr("31 days behind"));
  // The extremes of the wire's range do not overflow.
  EXPECT_FALSE(CheckAgentClock(std::numeric_limits<int64_t>::max(), kNow).ok());
  EXPECT_FALSE(CheckAgentClock(std::numeric_limits<int64_t>::min(), kNow).ok());
}

TEST(ValidateEventBatchTest, HonestBatchPasses) {
  EXPECT_TRUE(ValidateEventBatch(Batch({1, 2, 3}), {}, kNow).ok());
  EXPECT_TRUE(ValidateEventBatch(Batch({}), {}, kNow).ok());
}

TEST(ValidateEventBatchTest, SeqZeroRepeatedOrDecreasingIsRefused) {
  ExpectRefused(ValidateEventBatch(Batch({0}), {}, kNow), ErrorCode::kInvalidArgument,
                "events[0].seq is 0");
  ExpectRefused(ValidateEventBatch(Batch({5, 5}), {}, kNow), ErrorCode::kInvalidArgument,
                "events[1].seq 5");
  ExpectRefused(ValidateEventBatch(Batch({5, 4}), {}, kNow), ErrorCode::kInvalidArgument,
                "strictly");
}

TEST(ValidateEventBatchTest, SeqNearTwoToTheSixtyThreeIsRefused) {
  for (uint64_t seq : {(uint64_t{1} << 63) - 1, uint64_t{1} << 63,
                       std::numeric_limits<uint64_t>::max(), kMaxEventSeq + 1}) {
    ExpectRefused(ValidateEventBatch(Batch({seq}), {}, kNow), ErrorCode::kInvalidArgument,
                  "events[0].seq " + std::to_string(seq));
  }
  EXPECT_TRUE(ValidateEventBatch(Batch({kMaxEventSeq}), {}, kNow).ok());
}

TEST(ValidateEventBatchTest, TooManyEventsAreRefused) {
  CollectorLimits limits;
  limits.max_events_per_batch = 2;
  ExpectRefused(ValidateEventBatch(Batch({1, 2, 3}), limits, kNow), ErrorCode::kResourceExhausted,
                "events has 3");
}

TEST(ValidateEventBatchTest, EventTimesFarAheadOrAncientAreRefused) {
  ExpectRefused(ValidateEventBatch(Batch({1}, kNow + 31 * kDay), {}, kNow),
                ErrorCode::kInvalidArgument, "events[0].time");
  ExpectRefused(ValidateEventBatch(Batch({1}, kNow - 3661 * kDay), {}, kNow),
                ErrorCode::kInvalidArgument, "events[0].time");
  // Held in the outbox while offline for months: accepted.
  EXPECT_TRUE(ValidateEventBatch(Batch({1}, kNow - 200 * kDay), {}, kNow).ok());
  v1::EventBatch extreme = Batch({1});
  extreme.mutable_events(0)->mutable_time()->set_seconds(std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(ValidateEventBatch(extreme, {}, kNow).ok());
}

TEST(ValidateEventBatchTest, DeviceOfAnEventIsBoundedToo) {
  v1::EventBatch b = Batch({1});
  auto* device = b.mutable_events(0)->mutable_device();
  for (int i = 0; i <= kMaxInterfacesPerDevice; ++i) {
    device->mutable_identity()->add_interface_classes(v1::DEVICE_CLASS_HID);
  }
  ExpectRefused(ValidateEventBatch(b, {}, kNow), ErrorCode::kResourceExhausted,
                "events[0].device.identity.interface_classes");
}

TEST(CheckSeqWindowTest, AMillionBeyondTheAcknowledgedSeqIsTheLimit) {
  EXPECT_TRUE(CheckSeqWindow(1, 0).ok());
  EXPECT_TRUE(CheckSeqWindow(kMaxEventSeqAhead, 0).ok());
  EXPECT_TRUE(CheckSeqWindow(500 + kMaxEventSeqAhead, 500).ok());
  EXPECT_TRUE(CheckSeqWindow(3, 500).ok());  // a resend of what is stored
  const Status s = CheckSeqWindow(kMaxEventSeqAhead + 1, 0);
  ExpectRefused(s, ErrorCode::kInvalidArgument, "event seq 1000001");
  EXPECT_THAT(s.error().message, HasSubstr("acknowledged seq 0"));
  EXPECT_FALSE(CheckSeqWindow(std::numeric_limits<uint64_t>::max(), 0).ok());
}

TEST(ValidateWatchRequestTest, CurrentVersionAboveTheNewestIssuedIsRefused) {
  v1::WatchPolicyRequest r;
  r.set_current_version(7);
  EXPECT_TRUE(ValidateWatchRequest(r, 7).ok());
  ExpectRefused(ValidateWatchRequest(r, 6), ErrorCode::kInvalidArgument, "current_version 7");
  r.set_current_version(std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(ValidateWatchRequest(r, 6).ok());
}

}  // namespace
}  // namespace mamori
