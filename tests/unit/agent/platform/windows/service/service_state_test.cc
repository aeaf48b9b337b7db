#include "agent/platform/windows/service/service_state.h"

#include <gtest/gtest.h>

namespace mamori {
namespace {

constexpr ServiceTimings kTimings{.start_wait_hint_ms = 20'000, .stop_wait_hint_ms = 5'000};

TEST(ServiceStateTest, StartPendingAcceptsNothingAndCountsCheckpoints) {
  ServiceStateMachine m(kTimings);
  const auto r = m.BeginStart();
  EXPECT_EQ(r.state, ServiceState::kStartPending);
  EXPECT_EQ(r.controls_accepted, 0u);
  EXPECT_EQ(r.checkpoint, 1u);
  EXPECT_EQ(r.wait_hint_ms, 20'000u);
  EXPECT_EQ(m.Progress().checkpoint, 2u);
  EXPECT_EQ(m.Progress().checkpoint, 3u);
}

TEST(ServiceStateTest, StopBeforeRunningIsNotAccepted) {
  ServiceStateMachine m(kTimings);
  (void)m.BeginStart();
  const auto c = m.OnControl(kServiceControlStop);
  EXPECT_EQ(c.return_code, kErrorCallNotImplemented);
  EXPECT_FALSE(c.stop_requested);
  EXPECT_EQ(m.Current().state, ServiceState::kStartPending);
}

TEST(ServiceStateTest, RunningAcceptsStopAndPreshutdownWithZeroCheckpoint) {
  ServiceStateMachine m(kTimings);
  (void)m.BeginStart();
  const auto r = m.Started();
  EXPECT_EQ(r.state, ServiceState::kRunning);
  EXPECT_EQ(r.controls_accepted, kServiceAcceptStop | kServiceAcceptPreshutdown);
  EXPECT_EQ(r.checkpoint, 0u);
  EXPECT_EQ(r.wait_hint_ms, 0u);
  EXPECT_EQ(m.Progress(), r);  // no checkpoints outside pending states
}

TEST(ServiceStateTest, StopGoesToStopPendingOnce) {
  ServiceStateMachine m(kTimings);
  (void)m.BeginStart();
  (void)m.Started();
  const auto c = m.OnControl(kServiceControlStop);
  EXPECT_EQ(c.return_code, kNoError);
  EXPECT_TRUE(c.stop_requested);
  EXPECT_TRUE(c.report);
  EXPECT_EQ(m.Current().state, ServiceState::kStopPending);
  EXPECT_EQ(m.Current().controls_accepted, 0u);
  EXPECT_EQ(m.Current().checkpoint, 1u);
  EXPECT_EQ(m.Current().wait_hint_ms, 5'000u);
  EXPECT_EQ(m.Progress().checkpoint, 2u);
  // A second stop (or preshutdown) while stopping changes nothing.
  const auto again = m.OnControl(kServiceControlPreshutdown);
  EXPECT_EQ(again.return_code, kNoError);
  EXPECT_FALSE(again.stop_requested);
  EXPECT_EQ(m.Current().checkpoint, 2u);
}

TEST(ServiceStateTest, PreshutdownStops) {
  ServiceStateMachine m(kTimings);
  (void)m.Started();
  const auto c = m.OnControl(kServiceControlPreshutdown);
  EXPECT_TRUE(c.stop_requested);
  EXPECT_EQ(m.Current().state, ServiceState::kStopPending);
}

TEST(ServiceStateTest, ShutdownIsNotAcceptedBecausePreshutdownIs) {
  ServiceStateMachine m(kTimings);
  (void)m.Started();
  EXPECT_EQ(m.OnControl(kServiceControlShutdown).return_code, kErrorCallNotImplemented);
  EXPECT_EQ(m.Current().state, ServiceState::kRunning);
}

TEST(ServiceStateTest, DeviceEventWhileStartingOrRunning) {
  ServiceStateMachine m(kTimings);
  EXPECT_FALSE(m.OnControl(kServiceControlDeviceEvent).devices_changed);  // stopped
  (void)m.BeginStart();
  EXPECT_TRUE(m.OnControl(kServiceControlDeviceEvent).devices_changed);
  (void)m.Started();
  const auto c = m.OnControl(kServiceControlDeviceEvent);
  EXPECT_EQ(c.return_code, kNoError);
  EXPECT_TRUE(c.devices_changed);
  EXPECT_FALSE(c.report);
  (void)m.BeginStop();
  EXPECT_FALSE(m.OnControl(kServiceControlDeviceEvent).devices_changed);
  (void)m.Stopped();
  EXPECT_FALSE(m.OnControl(kServiceControlDeviceEvent).devices_changed);
}

TEST(ServiceStateTest, InterrogateReportsAndUnknownIsNotImplemented) {
  ServiceStateMachine m(kTimings);
  (void)m.Started();
  const auto c = m.OnControl(kServiceControlInterrogate);
  EXPECT_EQ(c.return_code, kNoError);
  EXPECT_TRUE(c.report);
  EXPECT_EQ(m.OnControl(0x7F).return_code, kErrorCallNotImplemented);
}

TEST(ServiceStateTest, StoppedWithServiceSpecificExitCode) {
  ServiceStateMachine m(kTimings);
  (void)m.Started();
  (void)m.BeginStop();
  const auto ok = m.Stopped();
  EXPECT_EQ(ok.state, ServiceState::kStopped);
  EXPECT_EQ(ok.win32_exit_code, kNoError);
  EXPECT_EQ(ok.checkpoint, 0u);
  const auto failed = m.Stopped(3);
  EXPECT_EQ(failed.win32_exit_code, kErrorServiceSpecificError);
  EXPECT_EQ(failed.service_specific_exit_code, 3u);
}

}  // namespace
}  // namespace mamori
