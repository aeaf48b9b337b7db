// The transport-less agent's pieces (agent/core/local_only.h): no bundle is
// trusted, a bundle left on disk is rejected rather than ignored, and every
// event reaches the log before Append returns.
#include "agent/core/local_only.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "agent/core/agent_core.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/agent_fakes.h"

namespace mamori {
namespace {

using testing::FakeBackend;
using testing::FakeClock;
using testing::SignedUpdate;
using testing::TempDir;

std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> RingSink() {
  return std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
}

TEST(NoKeyPolicyVerifierTest, TrustsNoBundleEvenAValidlySignedOne) {
  const NoKeyPolicyVerifier verifier;
  const Status s = verifier.Verify(SignedUpdate(7, "g", "name: p\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.error().message.find("policy version 7 cannot be verified"), std::string::npos);
}

TEST(NoPolicyCacheTest, EmptyDirectoryHasNoBundleAndSaveFails) {
  TempDir dir;
  NoPolicyCache cache(dir.path());
  auto loaded = cache.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_FALSE(loaded->has_value());
  EXPECT_EQ(cache.HighestAccepted().value(), 0u);
  EXPECT_FALSE(cache.Save(SignedUpdate(1, "g", "name: p\n")).ok());
}

TEST(NoPolicyCacheTest, BundleLeftOnDiskIsAnErrorNamingIt) {
  TempDir dir;
  const std::string bundle = dir.Write("policy.bundle", "whatever a full agent wrote");
  NoPolicyCache cache(dir.path());
  auto loaded = cache.Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find(bundle), std::string::npos) << loaded.error().message;
}

TEST(LogEventOutboxTest, EveryEventIsALineWithSeqAndSanitizedDeviceStrings) {
  auto sink = RingSink();
  auto logger = std::make_shared<spdlog::logger>("events-test", sink);
  sink->set_pattern("%l %v");
  LogEventOutbox outbox(logger);

  Event started;
  started.kind = EventKind::kAgentStarted;
  started.detail = "mamori-agent 1";
  EXPECT_EQ(outbox.Append(started).value(), 1u);

  Event blocked;
  blocked.kind = EventKind::kDeviceBlocked;
  blocked.severity = Severity::kAlert;
  Device d;
  d.device_id = "USB\\VID_0781&PID_5581\\X";
  d.identity.vendor_id = 0x0781;
  d.identity.product_id = 0x5581;
  d.identity.serial = "4C53\nforged line";
  d.decision.matched_rule = "default";
  blocked.device = d;
  blocked.detail = "block by rule 'default'";
  EXPECT_EQ(outbox.Append(blocked).value(), 2u);

  const auto lines = sink->last_formatted();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("info seq=1 kind=agent_started severity=info: mamori-agent 1"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("error seq=2 kind=device_blocked severity=alert"), std::string::npos)
      << lines[1];
  EXPECT_NE(lines[1].find("vidpid=0781:5581 serial='4C53\\x0aforged line' rule='default'"),
            std::string::npos)
      << lines[1];
  EXPECT_EQ(outbox.appended(), 2u);
  // Nothing to deliver: there is no transport.
  EXPECT_TRUE(outbox.Pending(100).empty());
}

// The agent core over these pieces enforces the built-in default, and a
// bundle a full agent cached is reported, not silently skipped.
TEST(LocalOnlyAgentTest, CachedBundleIsRejectedAndBuiltinDefaultEnforced) {
  TempDir dir;
  dir.Write("policy.bundle", "bytes");
  auto sink = RingSink();
  sink->set_pattern("%v");
  LogEventOutbox outbox(std::make_shared<spdlog::logger>("events-core-test", sink));
  const NoKeyPolicyVerifier verifier;
  NoPolicyCache cache(dir.path());
  FakeBackend backend;
  DeviceIdentity stick;
  stick.vendor_id = 0x0781;
  stick.product_id = 0x5581;
  stick.device_class = DeviceClass::kMassStorage;
  stick.interface_classes = {DeviceClass::kMassStorage};
  backend.Plug("1-1", stick);
  const FakeClock clock;
  AgentCore core(backend, outbox, clock, verifier, cache, AgentCoreOptions{});
  ASSERT_TRUE(core.Start().ok());
  core.Stop();

  const auto lines = sink->last_formatted();
  std::string all;
  for (const auto& l : lines) all += l;
  EXPECT_NE(all.find("kind=agent_started"), std::string::npos) << all;
  EXPECT_NE(all.find("built-in default policy (policy cache rejected)"), std::string::npos) << all;
  EXPECT_NE(all.find("kind=policy_rejected severity=alert"), std::string::npos) << all;
  EXPECT_NE(all.find("kind=device_blocked"), std::string::npos) << all;
  EXPECT_EQ(core.Snapshot().devices.at(0).decision.action, Action::kBlock);
}

}  // namespace
}  // namespace mamori
