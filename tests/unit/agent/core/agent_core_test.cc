#include "agent/core/agent_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "agent/outbox/event_journal.h"
#include "agent/storage/file_policy_cache.h"
#include "common/policy/policy_parser.h"
#include "common/policy/rule_engine.h"
#include "tests/mocks/agent_fakes.h"
#include "tests/mocks/outbox_events.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::FakeBackend;
using testing::FakeClock;
using testing::Keyboard;
using testing::KeyboardWithStorage;
using testing::SignedUpdate;
using testing::Stick;
using testing::TempDir;
using testing::TestPolicyKey;
using testing::TestPolicyVerifier;
using namespace std::chrono_literals;

constexpr std::string_view kAllowRegisteredSerial = R"(name: allow-one
rules:
  - name: registered-stick
    match:
      serial: "4C530001231120115142"
    action: allow
)";

constexpr std::string_view kReadOnlyStorage = R"(name: read-only
defaults:
  storage: read_only
)";

class AgentCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto o = JournalEventOutbox::Open(dir_.path(), clock_);
    ASSERT_TRUE(o.ok()) << o.error().message;
    outbox_ = std::move(*o);
  }

  std::unique_ptr<AgentCore> MakeCore(EnforcementMode mode = EnforcementMode::kEnforce) {
    AgentCoreOptions options;
    options.mode = mode;
    options.hostname = "terminal-01";
    options.os = "Linux test";
    options.report_interval_s = 60;
    auto core = std::make_unique<AgentCore>(backend_, *outbox_, clock_, TestPolicyVerifier(),
                                            cache_, options);
    core->SetChangeListener([this] {
      std::lock_guard lock(mu_);
      ++changes_;
      cv_.notify_all();
    });
    return core;
  }

  // Events recorded since the last call.
  std::vector<Event> TakeEvents() {
    auto events = PendingEvents(*outbox_, 1000);
    if (!events.empty()) outbox_->Ack(events.back().seq);
    return events;
  }

  static std::vector<EventKind> Kinds(const std::vector<Event>& events) {
    std::vector<EventKind> out;
    for (const Event& e : events) out.push_back(e.kind);
    return out;
  }

  const Device* Find(const TerminalState& s, std::string_view id) {
    for (const Device& d : s.devices) {
      if (d.device_id == id) return &d;
    }
    return nullptr;
  }

  TempDir dir_;
  FilePolicyCache cache_{dir_.path()};
  FakeClock clock_;
  FakeBackend backend_;
  std::unique_ptr<JournalEventOutbox> outbox_;
  std::mutex mu_;
  std::condition_variable cv_;
  int changes_ = 0;
};

TEST_F(AgentCoreTest, BuiltinDefaultBlocksStorageAndAllowsKeyboards) {
  backend_.Plug("stick", Stick());
  backend_.Plug("kbd", Keyboard());
  auto core = MakeCore();
  core->Reconcile();

  TerminalState s = core->Snapshot();
  EXPECT_EQ(s.applied_policy_version, 0u);
  ASSERT_EQ(s.devices.size(), 2u);
  const Device* stick = Find(s, "stick");
  ASSERT_NE(stick, nullptr);
  EXPECT_EQ(stick->decision.action, Action::kBlock);
  EXPECT_EQ(stick->decision.matched_rule, "default");
  EXPECT_TRUE(stick->decision.enforced);
  EXPECT_EQ(stick->first_seen_ms, clock_.NowMs());
  EXPECT_EQ(Find(s, "kbd")->decision.action, Action::kAllow);

  auto applies = backend_.applies();
  ASSERT_EQ(applies.size(), 2u);
  EXPECT_EQ(applies[0], std::make_pair(std::string("kbd"), Action::kAllow));
  EXPECT_EQ(applies[1], std::make_pair(std::string("stick"), Action::kBlock));

  auto events = TakeEvents();
  EXPECT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kDeviceAllowed, EventKind::kDeviceBlocked}));
  EXPECT_EQ(events[1].severity, Severity::kAlert);
  EXPECT_EQ(events[0].severity, Severity::kInfo);
  ASSERT_TRUE(events[1].device.has_value());
  EXPECT_EQ(events[1].device->identity.serial, "4C530001231120115142");
  EXPECT_EQ(events[1].time_ms, clock_.NowMs());
}

TEST_F(AgentCoreTest, SnapshotDescribesTheTerminal) {
  auto core = MakeCore();
  clock_.Advance(1234);
  TerminalState s = core->Snapshot();
  EXPECT_EQ(s.hostname, "terminal-01");
  EXPECT_EQ(s.os, "Linux test");
  EXPECT_EQ(s.agent_version, MAMORI_VERSION);
  EXPECT_EQ(s.agent_time_ms, clock_.NowMs());
  EXPECT_EQ(s.report_interval_s, 60u);
  EXPECT_EQ(s.enforcement.mode, EnforcementMode::kEnforce);
  EXPECT_EQ(s.enforcement.backend, "fake");
  EXPECT_TRUE(s.enforcement.healthy);
}

TEST_F(AgentCoreTest, UnchangedDevicesAreNeitherReappliedNorReported) {
  backend_.Plug("stick", Stick());
  auto core = MakeCore();
  core->Reconcile();
  TakeEvents();
  clock_.Advance(5000);
  core->Reconcile();
  EXPECT_TRUE(TakeEvents().empty());
  EXPECT_EQ(backend_.applies().size(), 1u);
  // first_seen stays at the first sighting.
  EXPECT_EQ(core->Snapshot().devices[0].first_seen_ms, clock_.NowMs() - 5000);
}

TEST_F(AgentCoreTest, RemovalIsReported) {
  backend_.Plug("stick", Stick());
  auto core = MakeCore();
  core->Reconcile();
  TakeEvents();
  backend_.Unplug("stick");
  core->Reconcile();
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events), std::vector<EventKind>{EventKind::kDeviceRemoved});
  EXPECT_EQ(events[0].device->device_id, "stick");
  EXPECT_TRUE(core->Snapshot().devices.empty());
}

// Printing is an output path: every printer connection is on record, each
// plug-in its own event, though printers are allowed.
TEST_F(AgentCoreTest, EveryPrinterConnectionIsAnEvent) {
  DeviceIdentity printer;
  printer.vendor_id = 0x04a9;
  printer.product_id = 0x1824;
  printer.serial = "PRN-1";
  printer.device_class = DeviceClass::kPrinter;
  printer.interface_classes = {DeviceClass::kPrinter};
  backend_.Plug("1-4", printer);
  auto core = MakeCore();
  core->Reconcile();
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events), std::vector<EventKind>{EventKind::kDeviceAllowed});
  EXPECT_EQ(events[0].device->identity.device_class, DeviceClass::kPrinter);
  EXPECT_EQ(events[0].detail, "allow by rule 'default'");
  backend_.Unplug("1-4");
  core->Reconcile();
  backend_.Plug("1-4", printer);
  core->Reconcile();
  EXPECT_EQ(Kinds(TakeEvents()),
            (std::vector<EventKind>{EventKind::kDeviceRemoved, EventKind::kDeviceAllowed}));
}

// The built-in default names the class default that blocked a way out.
TEST_F(AgentCoreTest, BuiltinDefaultBlocksTetheringAndNamesTheDefault) {
  DeviceIdentity phone;
  phone.vendor_id = 0x18d1;
  phone.product_id = 0x4ee3;
  phone.device_class = DeviceClass::kNetwork;
  phone.interface_classes = {DeviceClass::kNetwork};
  backend_.Plug("1-5", phone);
  auto core = MakeCore();
  core->Reconcile();
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events), std::vector<EventKind>{EventKind::kDeviceBlocked});
  EXPECT_EQ(events[0].detail, "block by rule 'default:network'");
}

TEST_F(AgentCoreTest, AnotherDeviceUnderTheSameIdIsRemovedThenDecidedAfresh) {
  backend_.Plug("port1", Stick("AAA"));
  auto core = MakeCore();
  core->Reconcile();
  TakeEvents();
  backend_.Plug("port1", Stick("BBB"));
  core->Reconcile();
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kDeviceRemoved, EventKind::kDeviceBlocked}));
  EXPECT_EQ(events[0].device->identity.serial, "AAA");
  EXPECT_EQ(events[1].device->identity.serial, "BBB");
}

TEST_F(AgentCoreTest, TheSameStickRepluggedBetweenTwoLooksIsEnforcedAgain) {
  // The agent sees the registered stick, allows it, then misses its unplug
  // and re-plug (busy, stopped, or uevents lost): the kernel holds the new
  // plug-in unauthorized. It describes itself exactly as before, but its
  // kernel device number is new.
  backend_.Plug("1-2", Stick(), "5");
  auto core = MakeCore();
  ASSERT_TRUE(
      core->ApplyPolicyUpdate(SignedUpdate(7, "osaka/suita", std::string(kAllowRegisteredSerial)))
          .ok());
  (void)TakeEvents();
  ASSERT_EQ(backend_.applies().back(), std::make_pair(std::string("1-2"), Action::kAllow));
  const std::size_t applied = backend_.applies().size();

  backend_.Plug("1-2", Stick(), "6");
  core->Reconcile();
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kDeviceRemoved, EventKind::kDeviceAllowed}));
  EXPECT_EQ(events[0].detail, "replaced");
  ASSERT_EQ(backend_.applies().size(), applied + 1) << "the new plug-in was not enforced";
  EXPECT_EQ(backend_.applies().back(), std::make_pair(std::string("1-2"), Action::kAllow));
  EXPECT_TRUE(core->Snapshot().devices[0].decision.enforced);

  // The same plug-in seen again is neither re-applied nor reported.
  core->Reconcile();
  EXPECT_TRUE(TakeEvents().empty());
  EXPECT_EQ(backend_.applies().size(), applied + 1);
}

TEST_F(AgentCoreTest, AnUnidentifiedDeviceIsBlockedNeverLetInByTheDefault) {
  // Read half-way through its removal: no product id, no serial, no
  // interfaces. The built-in default allows `other`; this must not.
  DeviceIdentity half;
  half.vendor_id = 0x46f4;
  half.bus_path = "1-2";
  backend_.PlugUnidentified("1-2", half, "idProduct unreadable (device being removed?)");
  // Even a policy that allows everything does not decide it.
  auto core = MakeCore();
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(7, "osaka", R"(name: open
defaults:
  storage: allow
  other: allow
)"))
                  .ok());
  auto events = TakeEvents();
  ASSERT_FALSE(events.empty());
  const Event& decided = events.back();
  EXPECT_EQ(decided.kind, EventKind::kDeviceBlocked);
  EXPECT_EQ(decided.severity, Severity::kAlert);
  EXPECT_NE(decided.detail.find("block by rule 'unidentified'"), std::string::npos)
      << decided.detail;
  EXPECT_NE(decided.detail.find("idProduct unreadable"), std::string::npos) << decided.detail;
  TerminalState s = core->Snapshot();
  ASSERT_EQ(s.devices.size(), 1u);
  EXPECT_EQ(s.devices[0].decision.action, Action::kBlock);
  EXPECT_EQ(s.devices[0].decision.matched_rule, "unidentified");
  EXPECT_EQ(backend_.applies().back(), std::make_pair(std::string("1-2"), Action::kBlock));

  // Identified at the next look (same plug-in, read completely): decided
  // by the policy, afresh.
  backend_.Plug("1-2", Stick());
  core->Reconcile();
  events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kDeviceRemoved, EventKind::kDeviceAllowed}));
  EXPECT_EQ(core->Snapshot().devices[0].decision.matched_rule, "default");
}

TEST_F(AgentCoreTest, EnforcementFailureIsAnAlertAndMarksEnforcementUnhealthy) {
  backend_.Plug("stick", Stick());
  backend_.SetFailing("stick", true);
  auto core = MakeCore();
  core->Reconcile();

  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kDeviceBlocked, EventKind::kEnforcementFailure}));
  EXPECT_EQ(events[1].severity, Severity::kAlert);
  EXPECT_NE(events[1].detail.find("cannot write authorized"), std::string::npos);

  TerminalState s = core->Snapshot();
  EXPECT_FALSE(s.enforcement.healthy);
  EXPECT_NE(s.enforcement.detail.find("stick"), std::string::npos);
  EXPECT_FALSE(s.devices[0].decision.enforced);
  EXPECT_FALSE(s.devices[0].decision.enforcement_error.empty());

  // Retried on the next reconciliation without a second alert...
  core->Reconcile();
  EXPECT_TRUE(TakeEvents().empty());
  EXPECT_EQ(backend_.applies().size(), 2u);
  // ...and healthy again once it succeeds.
  backend_.SetFailing("stick", false);
  core->Reconcile();
  EXPECT_EQ(backend_.applies().size(), 3u);
  s = core->Snapshot();
  EXPECT_TRUE(s.enforcement.healthy);
  EXPECT_TRUE(s.devices[0].decision.enforced);
}

TEST_F(AgentCoreTest, DeviceGoneWhileEnforcedIsARemovalNotAFailure) {
  // Plugged and pulled again before the agent carried out its decision.
  backend_.Plug("stick", Stick());
  backend_.VanishOnApply("stick");
  auto core = MakeCore();
  core->Reconcile();
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kDeviceBlocked, EventKind::kDeviceRemoved}));
  EXPECT_NE(events[0].detail.find("removed before it was carried out"), std::string::npos)
      << events[0].detail;
  TerminalState s = core->Snapshot();
  EXPECT_TRUE(s.devices.empty());
  EXPECT_TRUE(s.enforcement.healthy) << s.enforcement.detail;

  // A known device pulled while a new decision is carried out (a policy
  // change): removed, and no alert.
  backend_.Plug("stick", Stick());
  core->Reconcile();
  (void)TakeEvents();
  ASSERT_EQ(core->Snapshot().devices.size(), 1u);
  backend_.VanishOnApply("stick");
  PolicyBundle allow = SignedUpdate(7, "osaka", std::string(kReadOnlyStorage));
  ASSERT_TRUE(core->ApplyPolicyUpdate(allow).ok());
  events = TakeEvents();
  for (const Event& e : events) EXPECT_NE(e.kind, EventKind::kEnforcementFailure) << e.detail;
  const std::vector<EventKind> kinds = Kinds(events);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), EventKind::kDeviceRemoved), kinds.end());
  s = core->Snapshot();
  EXPECT_TRUE(s.devices.empty());
  EXPECT_TRUE(s.enforcement.healthy) << s.enforcement.detail;
}

TEST_F(AgentCoreTest, FailureFoundAfterApplyIsAppliedAgainAndReportedOnce) {
  backend_.Plug("stick", Stick());
  auto core = MakeCore();
  core->Reconcile();
  (void)TakeEvents();
  ASSERT_TRUE(core->Snapshot().devices[0].decision.enforced);

  backend_.FailLater("stick", "sdb stayed writable");
  core->Reconcile();
  EXPECT_EQ(backend_.applies().size(), 2u);  // applied again, not trusted
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events), (std::vector<EventKind>{EventKind::kEnforcementFailure}));
  EXPECT_FALSE(core->Snapshot().devices[0].decision.enforced);
  EXPECT_FALSE(core->Snapshot().enforcement.healthy);

  core->Reconcile();
  EXPECT_TRUE(TakeEvents().empty());  // one alert per failure, not per scan
}

TEST_F(AgentCoreTest, MegabyteDeviceStringIsBoundedSoItsEventIsRecorded) {
  DeviceIdentity evil = Stick("EVIL1");
  evil.product = std::string(2 << 20, '\xaa');  // more than a journal record holds
  backend_.Plug("evil", evil);
  auto core = MakeCore();
  core->Reconcile();
  core->Reconcile();  // the bounded identity stays the same device

  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events), (std::vector<EventKind>{EventKind::kDeviceBlocked}));
  ASSERT_TRUE(events[0].device.has_value());
  EXPECT_EQ(events[0].device->identity.product.size(), 4096u);
  EXPECT_EQ(events[0].device->identity.serial, "EVIL1");
}

TEST_F(AgentCoreTest, AuditOnlyDecidesAndReportsButNeverApplies) {
  backend_.Plug("stick", Stick());
  backend_.Plug("kbd", Keyboard());
  auto core = MakeCore(EnforcementMode::kAuditOnly);
  core->Reconcile();
  core->Reconcile();
  EXPECT_TRUE(backend_.applies().empty());

  TerminalState s = core->Snapshot();
  EXPECT_EQ(s.enforcement.mode, EnforcementMode::kAuditOnly);
  const Device* stick = Find(s, "stick");
  ASSERT_NE(stick, nullptr);
  EXPECT_EQ(stick->decision.action, Action::kBlock);
  EXPECT_FALSE(stick->decision.enforced);
  auto events = TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[1].detail.find("audit-only"), std::string::npos);

  ASSERT_TRUE(
      core->ApplyPolicyUpdate(SignedUpdate(3, "osaka", std::string(kReadOnlyStorage))).ok());
  EXPECT_TRUE(backend_.applies().empty());
}

TEST_F(AgentCoreTest, PolicyUpdateReevaluatesAndReportsChangedDecisions) {
  backend_.Plug("stick", Stick());
  backend_.Plug("kbd", Keyboard());
  auto core = MakeCore();
  core->Reconcile();
  TakeEvents();

  ASSERT_TRUE(
      core->ApplyPolicyUpdate(SignedUpdate(7, "osaka/suita", std::string(kAllowRegisteredSerial)))
          .ok());
  EXPECT_EQ(core->applied_policy_version(), 7u);
  auto events = TakeEvents();
  // The keyboard's decision did not change, so only the stick is reported.
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kPolicyApplied, EventKind::kDeviceAllowed}));
  EXPECT_NE(events[0].detail.find("version 7"), std::string::npos);
  EXPECT_EQ(events[1].device->decision.matched_rule, "registered-stick");
  EXPECT_EQ(backend_.applies().back(), std::make_pair(std::string("stick"), Action::kAllow));
  EXPECT_EQ(core->Snapshot().applied_policy_version, 7u);

  // The same version again changes nothing.
  ASSERT_TRUE(
      core->ApplyPolicyUpdate(SignedUpdate(7, "osaka/suita", std::string(kAllowRegisteredSerial)))
          .ok());
  EXPECT_TRUE(TakeEvents().empty());
}

// Class-wide enforcement (the Windows registry line) follows the policy in
// force: it gets the policy Start loads and each accepted bundle, before any
// device is decided under it, and nothing for a rejected or repeated one.
TEST_F(AgentCoreTest, PolicyListenerSeesEachPolicyBeforeDevicesAreDecidedUnderIt) {
  backend_.Plug("stick", Stick());
  auto core = MakeCore();
  std::vector<std::string> seen;  // policy names, and "apply" per backend apply
  core->SetPolicyListener([&](const Policy& p) {
    seen.push_back(p.name + " (after " + std::to_string(backend_.applies().size()) + " applies)");
  });
  ASSERT_TRUE(core->Start().ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], BuiltinDefaultPolicy().name + " (after 0 applies)");
  const std::size_t applies_after_start = backend_.applies().size();
  ASSERT_GE(applies_after_start, 1u);

  ASSERT_TRUE(
      core->ApplyPolicyUpdate(SignedUpdate(7, "osaka/suita", std::string(kAllowRegisteredSerial)))
          .ok());
  ASSERT_EQ(seen.size(), 2u);
  const Result<Policy> v7 = ParsePolicy(kAllowRegisteredSerial, "v7");
  ASSERT_TRUE(v7.ok());
  // Told before the stick was allowed under it.
  EXPECT_EQ(seen[1], v7->name + " (after " + std::to_string(applies_after_start) + " applies)");
  EXPECT_EQ(backend_.applies().back(), std::make_pair(std::string("stick"), Action::kAllow));

  // The same version again, and an older one (rejected): no call.
  ASSERT_TRUE(
      core->ApplyPolicyUpdate(SignedUpdate(7, "osaka/suita", std::string(kAllowRegisteredSerial)))
          .ok());
  (void)core->ApplyPolicyUpdate(SignedUpdate(3, "osaka/suita", std::string(kReadOnlyStorage)));
  EXPECT_EQ(seen.size(), 2u);
  core->Stop();
}

TEST_F(AgentCoreTest, CompositeDeviceIsBlockedWithItsKeyboardKept) {
  backend_.Plug("combo", KeyboardWithStorage());
  auto core = MakeCore();
  core->Reconcile();

  const auto applied = backend_.applied_decisions();
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].second.action, Action::kBlock);
  // The built-in default allows other devices, so the printer port stays.
  const std::vector<DeviceClass> kept = {DeviceClass::kPrinter, DeviceClass::kHid};
  EXPECT_EQ(applied[0].second.allowed_interface_classes, kept);

  const TerminalState s = core->Snapshot();
  ASSERT_EQ(s.devices.size(), 1u);
  EXPECT_EQ(s.devices[0].decision.allowed_interface_classes, kept);
  EXPECT_TRUE(s.devices[0].decision.enforced);

  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events), std::vector<EventKind>{EventKind::kDeviceBlocked});
  EXPECT_EQ(events[0].detail, "block by rule 'default'; interfaces kept: printer, hid");
  ASSERT_TRUE(events[0].device.has_value());
  EXPECT_EQ(events[0].device->decision.allowed_interface_classes, kept);

  // A plain stick says nothing about interfaces.
  backend_.Plug("stick", Stick());
  core->Reconcile();
  events = TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].detail, "block by rule 'default'");
}

TEST_F(AgentCoreTest, PolicyChangingOnlyTheKeptInterfacesIsReappliedAndReported) {
  backend_.Plug("combo", KeyboardWithStorage());
  auto core = MakeCore();
  core->Reconcile();
  TakeEvents();
  ASSERT_EQ(backend_.applied_decisions().size(), 1u);

  // Same action, same rule ("default"); only the printer port loses out.
  constexpr std::string_view kBlockOther = "name: no-other\ndefaults:\n  other: block\n";
  ASSERT_TRUE(core->ApplyPolicyUpdate(SignedUpdate(4, "osaka", std::string(kBlockOther))).ok());

  const auto applied = backend_.applied_decisions();
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[1].second.action, Action::kBlock);
  EXPECT_EQ(applied[1].second.matched_rule, "default");
  EXPECT_EQ(applied[1].second.allowed_interface_classes,
            std::vector<DeviceClass>{DeviceClass::kHid});
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kPolicyApplied, EventKind::kDeviceBlocked}));
  EXPECT_EQ(events[1].detail, "block by rule 'default'; interfaces kept: hid");

  // Reconciling again under the same policy changes nothing.
  core->Reconcile();
  EXPECT_EQ(backend_.applied_decisions().size(), 2u);
  EXPECT_TRUE(TakeEvents().empty());
}

TEST_F(AgentCoreTest, RejectedPolicyKeepsTheOldOne) {
  backend_.Plug("stick", Stick());
  auto core = MakeCore();
  ASSERT_TRUE(
      core->ApplyPolicyUpdate(SignedUpdate(2, "g", std::string(kAllowRegisteredSerial))).ok());
  TakeEvents();

  Status s = core->ApplyPolicyUpdate(
      SignedUpdate(3, "g", "name: broken\nrules:\n  - name: x\n    action: explode\n"));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(core->applied_policy_version(), 2u);
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events), std::vector<EventKind>{EventKind::kPolicyRejected});
  EXPECT_EQ(events[0].severity, Severity::kWarning);
  EXPECT_NE(events[0].detail.find("version 3"), std::string::npos);
  EXPECT_EQ(core->Snapshot().devices[0].decision.action, Action::kAllow);

  // An older version is refused too.
  EXPECT_FALSE(core->ApplyPolicyUpdate(SignedUpdate(1, "g", std::string(kReadOnlyStorage))).ok());
  EXPECT_EQ(core->applied_policy_version(), 2u);
  EXPECT_EQ(Kinds(TakeEvents()), std::vector<EventKind>{EventKind::kPolicyRejected});
}

TEST_F(AgentCoreTest, LocalPolicyFileIsEnforcedBeforeTheCollectorSendsOne) {
  backend_.Plug("stick", Stick());
  AgentCoreOptions options;
  auto policy = ParsePolicy(kReadOnlyStorage, "local.yaml");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  options.local_policy = *policy;
  options.local_policy_source = "local.yaml";
  AgentCore core(backend_, *outbox_, clock_, TestPolicyVerifier(), cache_, options);
  core.Reconcile();
  EXPECT_EQ(core.Snapshot().devices[0].decision.action, Action::kReadOnly);
  EXPECT_EQ(core.applied_policy_version(), 0u);
}

TEST_F(AgentCoreTest, StartRecordsAgentStartedAndFollowsBackendChanges) {
  backend_.Plug("kbd", Keyboard());
  auto core = MakeCore();
  ASSERT_TRUE(core->Start().ok());
  auto events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kAgentStarted, EventKind::kDeviceAllowed}));

  backend_.Plug("stick", Stick());
  int seen = 0;
  {
    std::lock_guard lock(mu_);
    seen = changes_;
  }
  backend_.FireChange();  // from the backend's thread in real life
  {
    // The listener runs once the worker has recorded the events; the
    // snapshot shows the new device a moment before they are in the outbox.
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, 5s, [&] { return changes_ > seen; }));
  }
  EXPECT_EQ(core->Snapshot().devices.size(), 2u);
  EXPECT_EQ(Kinds(TakeEvents()), std::vector<EventKind>{EventKind::kDeviceBlocked});

  core->RecordStopping("SIGTERM");
  EXPECT_EQ(Kinds(TakeEvents()), std::vector<EventKind>{EventKind::kAgentStopping});
  core->Stop();
  core->Stop();
}

TEST_F(AgentCoreTest, BackendThatCannotStartIsAnErrorAndUnhealthy) {
  backend_.start_error = "inotify: too many watches";
  auto core = MakeCore();
  Status s = core->Start();
  EXPECT_FALSE(s.ok());
  TerminalState st = core->Snapshot();
  EXPECT_FALSE(st.enforcement.healthy);
  EXPECT_NE(st.enforcement.detail.find("too many watches"), std::string::npos);
}

TEST_F(AgentCoreTest, ListenerIsToldAboutChanges) {
  auto core = MakeCore();
  backend_.Plug("stick", Stick());
  core->Reconcile();
  std::lock_guard lock(mu_);
  EXPECT_GE(changes_, 1);
}

TEST_F(AgentCoreTest, ReportedStringFieldsAreValidUtf8) {
  DeviceIdentity hostile = Stick();
  hostile.bus_path = "1-2\xff\x01";
  hostile.serial = std::string("\xc3\x28\0", 3);
  backend_.Plug("stick", hostile);
  auto core = MakeCore();
  core->Reconcile();
  TerminalState s = core->Snapshot();
  ASSERT_EQ(s.devices.size(), 1u);
  // bus_path travels as a proto string: sanitized. serial travels as bytes.
  EXPECT_EQ(s.devices[0].identity.bus_path.find('\xff'), std::string::npos);
  EXPECT_EQ(s.devices[0].identity.serial, std::string("\xc3\x28\0", 3));
}

TEST_F(AgentCoreTest, EveryEventCarriesTheUserLoggedOnWhenItWasRecorded) {
  std::string user = "CITY\\tanaka";
  AgentCoreOptions options;
  options.current_user = [&user] { return user; };
  AgentCore core(backend_, *outbox_, clock_, TestPolicyVerifier(), cache_, options);
  backend_.Plug("stick", Stick());
  core.Reconcile();
  user = "CITY\\suzuki\x1b[2J";  // a local administrator picks names
  backend_.Unplug("stick");
  core.Reconcile();

  const auto events = TakeEvents();
  ASSERT_EQ(Kinds(events),
            (std::vector<EventKind>{EventKind::kDeviceBlocked, EventKind::kDeviceRemoved}));
  EXPECT_EQ(events[0].user, "CITY\\tanaka");
  EXPECT_EQ(events[1].user.find('\x1b'), std::string::npos) << events[1].user;
  EXPECT_NE(events[1].user.find("suzuki"), std::string::npos) << events[1].user;
}

TEST_F(AgentCoreTest, EnforcementFailureFoundOutsideReconcilingIsAnAlertLikeAnyEvent) {
  AgentCoreOptions options;
  options.current_user = [] { return std::string("CITY\\tanaka"); };
  AgentCore core(backend_, *outbox_, clock_, TestPolicyVerifier(), cache_, options);
  int told = 0;
  core.SetChangeListener([&told] { ++told; });
  core.RecordEnforcementFailure("registry value DenyRemovableDevices changed to 0");
  const auto events = TakeEvents();
  ASSERT_EQ(Kinds(events), std::vector<EventKind>{EventKind::kEnforcementFailure});
  EXPECT_EQ(events[0].severity, Severity::kAlert);
  EXPECT_EQ(events[0].user, "CITY\\tanaka");
  EXPECT_EQ(events[0].detail, "registry value DenyRemovableDevices changed to 0");
  EXPECT_EQ(events[0].time_ms, clock_.NowMs());
  EXPECT_EQ(told, 1);  // the reporter is woken
}

TEST_F(AgentCoreTest, EventsHaveNoUserWhenNoneIsKnown) {
  auto core = MakeCore();
  backend_.Plug("stick", Stick());
  core->Reconcile();
  const auto events = TakeEvents();
  ASSERT_FALSE(events.empty());
  for (const Event& e : events) EXPECT_EQ(e.user, "");
}

}  // namespace
}  // namespace mamori
