#include "agent/platform/windows/device/registry_watch.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "agent/platform/windows/device/device_install_restrictions.h"
#include "common/policy/rule_engine.h"
#include "tests/mocks/fake_registry.h"

namespace mamori {
namespace {

using Wake = RegistryChangeSignal::Wake;

// Wake-ups scripted by the test. Wait blocks until the test pushes one or
// stops, so the test knows when the watcher has finished a round.
class FakeSignal final : public RegistryChangeSignal {
 public:
  Status Arm() override {
    std::lock_guard lock(mu_);
    ++arms_;
    if (fail_arm_) return MakeError(ErrorCode::kIo, "RegNotifyChangeKeyValue: denied (5)");
    return Status::Ok();
  }
  Wake Wait(std::chrono::milliseconds) override {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return stopped_ || !wakes_.empty(); });
    --waiting_;
    if (stopped_) return Wake::kStopped;
    const Wake w = wakes_.front();
    wakes_.pop_front();
    ++rounds_;
    return w;
  }
  void Stop() override {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

  void Push(Wake w) {
    std::lock_guard lock(mu_);
    wakes_.push_back(w);
    cv_.notify_all();
  }
  // Until the watcher has taken `rounds` wake-ups and waits again: it is
  // then idle, and the fake registry may be touched.
  void AwaitIdleAfter(int rounds) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return rounds_ >= rounds && waiting_ > 0 && wakes_.empty(); });
  }
  void FailArm(bool fail) {
    std::lock_guard lock(mu_);
    fail_arm_ = fail;
  }
  int arms() {
    std::lock_guard lock(mu_);
    return arms_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Wake> wakes_;
  int waiting_ = 0;
  int rounds_ = 0;
  int arms_ = 0;
  bool stopped_ = false;
  bool fail_arm_ = false;
};

const std::string kDisks =
    "SOFTWARE\\Policies\\Microsoft\\Windows\\RemovableStorageDevices\\"
    "{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}";
const std::string kRestrictions(kDeviceInstallRestrictionsKey);
const std::string kClassList(kDenyDeviceClassesListKey);

class RegistryWatchTest : public ::testing::Test {
 protected:
  std::vector<RegistryTamperReport> Reports() {
    std::lock_guard lock(mu_);
    return reports_;
  }

  FakeRegistry registry_;
  FakeSignal signal_;
  std::mutex mu_;
  std::vector<RegistryTamperReport> reports_;
  RegistryPolicyWatcher watcher_{registry_, signal_, std::chrono::minutes(5),
                                 [this](const RegistryTamperReport& r) {
                                   std::lock_guard lock(mu_);
                                   reports_.push_back(r);
                                 }};
  const std::vector<RegistryPolicyValue> line_ = RegistryLineFor(BuiltinDefaultPolicy());
};

TEST_F(RegistryWatchTest, SettingThePolicyIsNotTampering) {
  ASSERT_TRUE(watcher_.SetDesired(line_));
  EXPECT_EQ(*registry_.Read(kDisks, "Deny_Write"), RegistryValue::Dword(1));
  watcher_.CheckNow();
  EXPECT_TRUE(Reports().empty());
}

TEST_F(RegistryWatchTest, NothingToCheckBeforeAPolicyIsSet) {
  watcher_.CheckNow();
  EXPECT_EQ(registry_.reads, 0);
  EXPECT_TRUE(Reports().empty());
}

TEST_F(RegistryWatchTest, TamperingIsRestoredAndReportedEachTime) {
  ASSERT_TRUE(watcher_.SetDesired(line_));
  registry_.values[{kDisks, "Deny_Write"}] = RegistryValue::Dword(0);
  watcher_.CheckNow();
  ASSERT_EQ(Reports().size(), 1u);
  const RegistryTamperReport r = Reports()[0];
  EXPECT_TRUE(r.restored);
  EXPECT_TRUE(r.error.empty());
  ASSERT_EQ(r.drift.size(), 1u);
  EXPECT_EQ(r.drift[0].expected.name, "Deny_Write");
  EXPECT_EQ(r.Describe(), "registry policy changed outside the agent (restored): " + kDisks +
                              "\\Deny_Write: expected 1, found 0");
  EXPECT_EQ(*registry_.Read(kDisks, "Deny_Write"), RegistryValue::Dword(1));

  // The same change again is a new change: reported again.
  registry_.values[{kDisks, "Deny_Write"}] = RegistryValue::Dword(0);
  watcher_.CheckNow();
  EXPECT_EQ(Reports().size(), 2u);
}

TEST_F(RegistryWatchTest, AFailedRestoreIsReportedOnceWhileItPersists) {
  ASSERT_TRUE(watcher_.SetDesired(line_));
  registry_.values.erase({kDisks, "Deny_Read"});
  registry_.fail_writes = true;
  watcher_.CheckNow();
  watcher_.CheckNow();
  watcher_.CheckNow();
  ASSERT_EQ(Reports().size(), 1u);
  const RegistryTamperReport r = Reports()[0];
  EXPECT_FALSE(r.restored);
  EXPECT_NE(r.error.find("could not restore"), std::string::npos) << r.error;
  EXPECT_NE(r.Describe().find("NOT restored"), std::string::npos);

  // Once writing works again the next check restores it.
  registry_.fail_writes = false;
  watcher_.CheckNow();
  ASSERT_EQ(Reports().size(), 2u);
  EXPECT_TRUE(Reports()[1].restored);
}

// RegDeleteTreeW removes one key after another: the watcher may wake
// when part of the line is gone and restore it, and the deletion then goes
// on and removes what was just restored.
TEST_F(RegistryWatchTest, ADeletionStillUnderWayIsRestoredUntilTheLineIsWhole) {
  ASSERT_TRUE(watcher_.SetDesired(line_));
  registry_.values.erase({kClassList, "1"});
  int writes_seen = 0;
  registry_.after_write = [&] {
    if (++writes_seen > 1) return;
    registry_.values.erase({kClassList, "1"});
    registry_.values.erase({kRestrictions, "DenyDeviceClasses"});
    registry_.values.erase({kRestrictions, "DenyDeviceClassesRetroactive"});
  };
  watcher_.CheckNow();

  ASSERT_EQ(Reports().size(), 1u);
  const RegistryTamperReport r = Reports()[0];
  EXPECT_TRUE(r.restored) << r.Describe();
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(r.Describe().rfind("registry policy changed outside the agent (restored): ", 0), 0u)
      << r.Describe();
  // Everything the deletion took, each value once.
  ASSERT_EQ(r.drift.size(), 3u);
  EXPECT_EQ(r.drift[0].expected.name, "1");
  EXPECT_EQ(r.drift[1].expected.name, "DenyDeviceClasses");
  EXPECT_EQ(r.drift[2].expected.name, "DenyDeviceClassesRetroactive");
  EXPECT_EQ(writes_seen, 4);  // one value, then the three the deletion took
  RegistryPolicyEnforcer enforcer(registry_);
  auto drift = enforcer.Verify(line_);
  ASSERT_TRUE(drift.ok());
  EXPECT_TRUE(drift->empty());
}

TEST_F(RegistryWatchTest, ARestoreThatNeverHoldsIsBoundedAndSaysWhatIsStillWrong) {
  ASSERT_TRUE(watcher_.SetDesired(line_));
  registry_.values.erase({kDisks, "Deny_Read"});
  registry_.ignore_writes = true;
  const int writes_before = registry_.writes;
  watcher_.CheckNow();

  EXPECT_EQ(registry_.writes - writes_before, RegistryPolicyWatcher::kRestoreRounds);
  ASSERT_EQ(Reports().size(), 1u);
  const RegistryTamperReport r = Reports()[0];
  EXPECT_FALSE(r.restored);
  const std::string missing = kDisks + "\\Deny_Read: expected 1, found missing";
  EXPECT_EQ(r.Describe(), "registry policy changed outside the agent (NOT restored): " + missing +
                              "; registry policy still differs after " +
                              std::to_string(RegistryPolicyWatcher::kRestoreRounds) +
                              " restore attempts: " + missing);
}

TEST_F(RegistryWatchTest, ReadErrorsAreReportedOnce) {
  ASSERT_TRUE(watcher_.SetDesired(line_));
  registry_.fail_reads = true;
  watcher_.CheckNow();
  watcher_.CheckNow();
  ASSERT_EQ(Reports().size(), 1u);
  EXPECT_NE(Reports()[0].error.find("could not be verified"), std::string::npos);
}

TEST_F(RegistryWatchTest, SetDesiredReportsWriteFailures) {
  registry_.fail_writes = true;
  const Status s = watcher_.SetDesired(line_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);
}

TEST_F(RegistryWatchTest, ThreadChecksOnChangeAndOnTimeout) {
  ASSERT_TRUE(watcher_.SetDesired(line_));
  watcher_.Start();
  signal_.AwaitIdleAfter(0);  // first round done: nothing drifted
  EXPECT_TRUE(Reports().empty());

  registry_.values[{kDisks, "Deny_Read"}] = RegistryValue::Dword(0);
  signal_.Push(Wake::kChanged);
  signal_.AwaitIdleAfter(1);
  ASSERT_EQ(Reports().size(), 1u);
  EXPECT_TRUE(Reports()[0].restored);

  registry_.values.erase({kDisks, "Deny_Write"});
  signal_.Push(Wake::kTimeout);  // the periodic check finds it too
  signal_.AwaitIdleAfter(2);
  ASSERT_EQ(Reports().size(), 2u);
  EXPECT_EQ(Reports()[1].drift.at(0).expected.name, "Deny_Write");

  EXPECT_EQ(signal_.arms(), 3);  // re-armed before every check
  watcher_.Stop();
  watcher_.Stop();  // idempotent
}

TEST_F(RegistryWatchTest, UnarmableWatchIsReportedOnceAndStillChecks) {
  ASSERT_TRUE(watcher_.SetDesired(line_));
  signal_.FailArm(true);
  watcher_.Start();
  signal_.AwaitIdleAfter(0);
  signal_.Push(Wake::kTimeout);
  signal_.AwaitIdleAfter(1);
  ASSERT_EQ(Reports().size(), 1u);
  EXPECT_NE(Reports()[0].error.find("change notification unavailable"), std::string::npos);

  registry_.values[{kDisks, "Deny_Read"}] = RegistryValue::Dword(0);
  signal_.Push(Wake::kTimeout);
  signal_.AwaitIdleAfter(2);
  ASSERT_EQ(Reports().size(), 2u);
  EXPECT_TRUE(Reports()[1].restored);
  watcher_.Stop();
}

}  // namespace
}  // namespace mamori
