// Which policy bundles the agent accepts (signed by the pinned key, newer
// than what it enforces and has accepted before), and the policy cache it
// enforces from its next start.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "agent/core/agent_core.h"
#include "agent/outbox/event_journal.h"
#include "agent/storage/file_policy_cache.h"
#include "common/crypto/credentials.h"
#include "common/policy/policy_parser.h"
#include "tests/mocks/agent_fakes.h"
#include "tests/mocks/outbox_events.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::FakeBackend;
using testing::FakeClock;
using testing::Keyboard;
using testing::MemoryPolicyCache;
using testing::SignedUpdate;
using testing::Stick;
using testing::TempDir;
using testing::TestPolicyVerifier;

// Allows the test stick (serial 4C53...), which the built-in default blocks.
constexpr std::string_view kAllowStick = R"(name: allow-stick
rules:
  - name: registered-stick
    match:
      serial: "4C530001231120115142"
    action: allow
)";

constexpr std::string_view kReadOnlyStorage = "name: read-only\ndefaults:\n  storage: read_only\n";

const PolicySigningKey& OtherKey() {
  static const PolicySigningKey key = PolicySigningKey::Generate().value();
  return key;
}

class PolicyAcceptanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.File("journal"));
    auto o = JournalEventOutbox::Open(dir_.File("journal"), clock_);
    ASSERT_TRUE(o.ok()) << o.error().message;
    outbox_ = std::move(*o);
    backend_.Plug("stick", Stick());
  }

  std::unique_ptr<AgentCore> MakeCore(PolicyCache& cache, AgentCoreOptions options = {}) {
    return std::make_unique<AgentCore>(backend_, *outbox_, clock_, TestPolicyVerifier(), cache,
                                       std::move(options));
  }
  std::unique_ptr<AgentCore> MakeCore() { return MakeCore(cache_); }

  // Starts a core on the file cache as the agent does after a restart.
  std::unique_ptr<AgentCore> Restart() {
    auto core = MakeCore();
    EXPECT_TRUE(core->Start().ok());
    return core;
  }

  std::vector<Event> TakeEvents() {
    auto events = PendingEvents(*outbox_, 1000);
    if (!events.empty()) outbox_->Ack(events.back().seq);
    return events;
  }

  std::vector<Event> TakeEventsOf(EventKind kind) {
    std::vector<Event> out;
    for (Event& e : TakeEvents()) {
      if (e.kind == kind) out.push_back(std::move(e));
    }
    return out;
  }

  static Action StickAction(const AgentCore& core) {
    for (const Device& d : core.Snapshot().devices) {
      if (d.device_id == "stick") return d.decision.action;
    }
    return Action::kUnspecified;
  }

  // A running agent accepted version 7 (allowing the stick) and stopped.
  void AcceptSevenAndStop() {
    auto core = MakeCore();
    ASSERT_TRUE(core->Start().ok());
    ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(7, "osaka", std::string(kAllowStick))).ok());
    ASSERT_EQ(StickAction(*core), Action::kAllow);
    core->Stop();
    TakeEvents();
  }

  void ExpectCacheRejected(const AgentCore& core, std::string_view why) {
    EXPECT_EQ(core.applied_policy_version(), 0u);
    EXPECT_EQ(StickAction(core), Action::kBlock);  // the built-in default
    auto rejected = TakeEventsOf(EventKind::kPolicyRejected);
    ASSERT_EQ(rejected.size(), 1u);
    EXPECT_EQ(rejected[0].severity, Severity::kAlert);
    EXPECT_NE(rejected[0].detail.find(cache_.bundle_path()), std::string::npos)
        << rejected[0].detail;
    EXPECT_NE(rejected[0].detail.find(why), std::string::npos) << rejected[0].detail;
    EXPECT_NE(rejected[0].detail.find("built-in default"), std::string::npos);
  }

  TempDir dir_;
  FilePolicyCache cache_{dir_.path()};
  FakeClock clock_;
  FakeBackend backend_;
  std::unique_ptr<JournalEventOutbox> outbox_;
};

// --- bundles from the collector ---

TEST_F(PolicyAcceptanceTest, AcceptsNewerBundleSignedByThePinnedKey) {
  auto core = MakeCore();
  core->Reconcile();
  ASSERT_EQ(StickAction(*core), Action::kBlock);
  TakeEvents();
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(7, "osaka", std::string(kAllowStick))).ok());
  EXPECT_EQ(core->applied_policy_version(), 7u);
  EXPECT_EQ(StickAction(*core), Action::kAllow);
  auto applied = TakeEventsOf(EventKind::kPolicyApplied);
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].severity, Severity::kInfo);
}

TEST_F(PolicyAcceptanceTest, RefusesUnsignedBundle) {
  auto core = MakeCore();
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(3, "osaka", std::string(kAllowStick))).ok());
  TakeEvents();
  PolicyBundle unsigned_bundle;
  unsigned_bundle.version = 4;
  unsigned_bundle.group = "osaka";
  unsigned_bundle.policy_yaml = std::string(kReadOnlyStorage);
  EXPECT_FALSE(core->ApplyPolicyUpdate(unsigned_bundle).ok());
  EXPECT_EQ(core->applied_policy_version(), 3u);
  EXPECT_EQ(StickAction(*core), Action::kAllow);
  auto rejected = TakeEventsOf(EventKind::kPolicyRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].severity, Severity::kAlert);
  EXPECT_NE(rejected[0].detail.find("policy version 4 of group osaka rejected: unsigned"),
            std::string::npos)
      << rejected[0].detail;
}

TEST_F(PolicyAcceptanceTest, RefusesBundleSignedByAnotherKey) {
  auto core = MakeCore();
  EXPECT_FALSE(
      core->ApplyPolicyUpdate(SignedUpdate(4, "osaka", std::string(kAllowStick), OtherKey())).ok());
  EXPECT_EQ(core->applied_policy_version(), 0u);
  auto rejected = TakeEventsOf(EventKind::kPolicyRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].severity, Severity::kAlert);
  EXPECT_NE(
      rejected[0].detail.find("signed with key '" + OtherKey().key_id() +
                              "', not the pinned policy key " + testing::TestPolicyKey().key_id()),
      std::string::npos)
      << rejected[0].detail;
}

TEST_F(PolicyAcceptanceTest, RefusesBundleAlteredAfterSigning) {
  auto core = MakeCore();
  PolicyBundle forged = SignedUpdate(4, "osaka", std::string(kReadOnlyStorage));
  forged.policy_yaml = std::string(kAllowStick);
  EXPECT_FALSE(core->ApplyPolicyUpdate(forged).ok());
  EXPECT_EQ(core->applied_policy_version(), 0u);
  auto rejected = TakeEventsOf(EventKind::kPolicyRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].severity, Severity::kAlert);
  EXPECT_NE(rejected[0].detail.find("does not verify"), std::string::npos) << rejected[0].detail;
}

TEST_F(PolicyAcceptanceTest, RefusesOlderVersionAsRollback) {
  auto core = MakeCore();
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(7, "osaka", std::string(kAllowStick))).ok());
  TakeEvents();
  EXPECT_FALSE(
      core->ApplyPolicyUpdate(SignedUpdate(6, "osaka", std::string(kReadOnlyStorage))).ok());
  EXPECT_EQ(core->applied_policy_version(), 7u);
  EXPECT_EQ(StickAction(*core), Action::kAllow);
  auto rejected = TakeEventsOf(EventKind::kPolicyRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].severity, Severity::kAlert);
  EXPECT_NE(rejected[0].detail.find("rollback"), std::string::npos) << rejected[0].detail;
}

TEST_F(PolicyAcceptanceTest, IgnoresTheSameVersionAgain) {
  auto core = MakeCore();
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(7, "osaka", std::string(kAllowStick))).ok());
  TakeEvents();
  EXPECT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(7, "osaka", std::string(kAllowStick))).ok());
  EXPECT_TRUE(TakeEvents().empty());
  EXPECT_EQ(core->applied_policy_version(), 7u);
}

TEST_F(PolicyAcceptanceTest, SignedButUnparsableBundleIsAWarning) {
  auto core = MakeCore();
  EXPECT_FALSE(
      core->ApplyPolicyUpdate(SignedUpdate(2, "g", "name: x\nrules: [ {action: boom} ]\n")).ok());
  auto rejected = TakeEventsOf(EventKind::kPolicyRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].severity, Severity::kWarning);
  EXPECT_EQ(core->applied_policy_version(), 0u);
}

TEST_F(PolicyAcceptanceTest, CacheThatCannotBeWrittenStillAppliesAndSaysSo) {
  MemoryPolicyCache failing;
  failing.fail_save = "disk full";
  auto core = MakeCore(failing);
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(2, "g", std::string(kAllowStick))).ok());
  EXPECT_EQ(core->applied_policy_version(), 2u);
  auto applied = TakeEventsOf(EventKind::kPolicyApplied);
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].severity, Severity::kWarning);
  EXPECT_NE(applied[0].detail.find("not cached: disk full"), std::string::npos);
}

// --- the cache ---

TEST_F(PolicyAcceptanceTest, AcceptedBundleIsCachedAtomically) {
  auto core = MakeCore();
  const PolicyBundle bundle = SignedUpdate(7, "osaka", std::string(kAllowStick));
  ASSERT_TRUE(core->ApplyPolicyUpdate(bundle).ok());

  auto bytes = ReadFileToString(cache_.bundle_path());
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto decoded = DecodePolicyBundle(*bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->version, 7u);
  EXPECT_EQ(decoded->group, "osaka");
  EXPECT_EQ(decoded->policy_yaml, bundle.policy_yaml);
  EXPECT_EQ(decoded->signature, bundle.signature);
  EXPECT_EQ(decoded->key_id, bundle.key_id);
  auto highest = cache_.HighestAccepted();
  ASSERT_TRUE(highest.ok());
  EXPECT_EQ(*highest, 7u);

  struct stat st {};
  ASSERT_EQ(::stat(cache_.bundle_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Written through a temp file renamed into place: nothing else is left.
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST_F(PolicyAcceptanceTest, HighestAcceptedNeverGoesDown) {
  ASSERT_TRUE(cache_.Save(SignedUpdate(9, "g", std::string(kAllowStick))).ok());
  ASSERT_TRUE(cache_.Save(SignedUpdate(4, "g", std::string(kAllowStick))).ok());
  EXPECT_EQ(*cache_.HighestAccepted(), 9u);
}

TEST_F(PolicyAcceptanceTest, CachedPolicyIsEnforcedAtStart) {
  AcceptSevenAndStop();
  auto core = Restart();
  EXPECT_EQ(core->applied_policy_version(), 7u);
  EXPECT_EQ(StickAction(*core), Action::kAllow);
  auto events = TakeEvents();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].kind, EventKind::kAgentStarted);
  EXPECT_NE(events[0].detail.find("cached policy version 7 of group osaka"), std::string::npos)
      << events[0].detail;
  for (const Event& e : events) EXPECT_NE(e.kind, EventKind::kPolicyRejected) << e.detail;
}

TEST_F(PolicyAcceptanceTest, CachedPolicyWinsOverTheBootstrapPolicy) {
  AcceptSevenAndStop();
  AgentCoreOptions options;
  options.local_policy = ParsePolicy(kReadOnlyStorage, "local.yaml").value();
  options.local_policy_source = "local.yaml";
  auto core = MakeCore(cache_, options);
  ASSERT_TRUE(core->Start().ok());
  EXPECT_EQ(StickAction(*core), Action::kAllow);
}

TEST_F(PolicyAcceptanceTest, WithoutCacheTheBootstrapPolicyIsEnforcedQuietly) {
  AgentCoreOptions options;
  options.local_policy = ParsePolicy(kReadOnlyStorage, "local.yaml").value();
  options.local_policy_source = "local.yaml";
  auto core = MakeCore(cache_, options);
  ASSERT_TRUE(core->Start().ok());
  EXPECT_EQ(StickAction(*core), Action::kReadOnly);
  EXPECT_TRUE(TakeEventsOf(EventKind::kPolicyRejected).empty());
}

TEST_F(PolicyAcceptanceTest, CacheEditedOnDiskIsReportedAndTheDefaultEnforced) {
  AcceptSevenAndStop();
  // Someone widens the cached policy: the yaml changes, the signature stays.
  PolicyBundle edited = DecodePolicyBundle(*ReadFileToString(cache_.bundle_path())).value();
  edited.policy_yaml = "name: open\ndefaults:\n  storage: allow\n";
  ASSERT_TRUE(WriteFileAtomic(cache_.bundle_path(), EncodePolicyBundle(edited), 0600).ok());

  auto core = Restart();
  ExpectCacheRejected(*core, "does not verify");
}

TEST_F(PolicyAcceptanceTest, CacheWithGarbageBytesIsReportedAndTheDefaultEnforced) {
  AcceptSevenAndStop();
  ASSERT_TRUE(WriteFileAtomic(cache_.bundle_path(), "\xff\xff\xff\xff not protobuf", 0600).ok());
  auto core = Restart();
  ExpectCacheRejected(*core, "cannot be decoded");
}

TEST_F(PolicyAcceptanceTest, OlderValidlySignedCacheFileIsRefusedAsRollback) {
  auto first = MakeCore();
  ASSERT_TRUE(first->ApplyPolicyUpdate(SignedUpdate(5, "osaka", std::string(kAllowStick))).ok());
  const std::string v5_bytes = ReadFileToString(cache_.bundle_path()).value();
  ASSERT_TRUE(
      first->ApplyPolicyUpdate(SignedUpdate(8, "osaka", std::string(kReadOnlyStorage))).ok());
  first.reset();
  TakeEvents();
  // While the agent is stopped, the old (more permissive) bundle is put back.
  ASSERT_TRUE(WriteFileAtomic(cache_.bundle_path(), v5_bytes, 0600).ok());

  auto core = Restart();
  ExpectCacheRejected(*core, "older than version 8 accepted before (rollback)");
}

TEST_F(PolicyAcceptanceTest, DeletedCacheAfterAcceptingIsReported) {
  AcceptSevenAndStop();
  std::filesystem::remove(cache_.bundle_path());
  auto core = Restart();
  ExpectCacheRejected(*core, "missing, but version 7 was accepted before");
}

TEST_F(PolicyAcceptanceTest, RunningAgentKeepsItsPolicyWhenTheCacheIsEdited) {
  auto core = MakeCore();
  ASSERT_TRUE(core->Start().ok());
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(7, "osaka", std::string(kAllowStick))).ok());
  ASSERT_TRUE(WriteFileAtomic(cache_.bundle_path(), "tampered", 0600).ok());
  backend_.Plug("kbd", Keyboard());
  core->Reconcile();
  // The policy in force lives in memory; the file is read only at start.
  EXPECT_EQ(core->applied_policy_version(), 7u);
  EXPECT_EQ(StickAction(*core), Action::kAllow);
}

TEST_F(PolicyAcceptanceTest, AfterARejectedCacheTheCollectorsBundleIsAcceptedAgain) {
  AcceptSevenAndStop();
  ASSERT_TRUE(WriteFileAtomic(cache_.bundle_path(), "tampered", 0600).ok());
  auto core = Restart();
  ASSERT_EQ(core->applied_policy_version(), 0u);
  TakeEvents();
  // The collector re-sends the version in force, 7: not older than any
  // version accepted before, so it is taken again (and re-cached).
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(7, "osaka", std::string(kAllowStick))).ok());
  EXPECT_EQ(core->applied_policy_version(), 7u);
  EXPECT_EQ(StickAction(*core), Action::kAllow);
  EXPECT_EQ(DecodePolicyBundle(*ReadFileToString(cache_.bundle_path()))->version, 7u);
  // An older one still is not.
  EXPECT_FALSE(core->ApplyPolicyUpdate(SignedUpdate(6, "osaka", std::string(kAllowStick))).ok());
}

}  // namespace
}  // namespace mamori
