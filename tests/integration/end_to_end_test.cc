// Real collector and real agents as processes on loopback: reports,
// compliance, events, policy push, mamorictl, shutdown and restart.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "tests/integration/collector_test.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

using std::chrono::seconds;

constexpr char kRegisteredSerial[] = "4C530001231120115142";

class EndToEndTest : public CollectorTest {
 protected:
  const v1::DeviceView* FindDevice(const v1::TerminalDetail& d, const std::string& device_id) {
    for (const auto& dev : d.devices()) {
      if (dev.device_id() == device_id) return &dev;
    }
    return nullptr;
  }

  std::vector<v1::EventView> Events(const std::string& terminal) {
    grpc::ClientContext ctx;
    v1::QueryEventsRequest req;
    req.set_terminal_id(terminal);
    v1::QueryEventsResponse resp;
    if (!admin_->QueryEvents(WithDeadline(&ctx), req, &resp).ok()) return {};
    return {resp.events().begin(), resp.events().end()};
  }

  bool HasEvent(const std::string& terminal, v1::EventKind kind, const std::string& serial) {
    for (const auto& e : Events(terminal)) {
      if (e.kind() == kind && e.device().serial() == serial) return true;
    }
    return false;
  }

  const v1::ComplianceCheck* Check(const v1::TerminalDetail& d, const std::string& name) {
    for (const auto& c : d.checks()) {
      if (c.name() == name) return &c;
    }
    return nullptr;
  }
};

TEST_F(EndToEndTest, AgentsReportDevicesDecisionsAndCompliance) {
  AgentProcess a(pki_, dir_, *collector_, "suita-hoken-001", "osaka/suita/hoken");
  AgentProcess b(pki_, dir_, *collector_, "toyonaka-001", "osaka/toyonaka");
  a.Plug("keyboard", KeyboardYaml());
  a.Plug("stick", StickYaml("UNREGISTERED01"));
  a.Start();
  b.Start();

  ASSERT_TRUE(WaitUntil(
      [&] {
        auto t = Terminal("suita-hoken-001");
        return t && t->devices_size() == 2 && Terminal("toyonaka-001").has_value();
      },
      seconds(20)))
      << a.Log() << collector_->Log();

  auto t = *Terminal("suita-hoken-001");
  EXPECT_EQ(t.summary().group(), "osaka/suita/hoken");  // from the certificate
  const auto* stick = FindDevice(t, "stick");
  ASSERT_NE(stick, nullptr);
  EXPECT_EQ(stick->decision().action(), v1::ACTION_BLOCK);
  EXPECT_EQ(stick->decision().matched_rule(), "default");
  EXPECT_EQ(stick->vid_pid(), "0781:5581");
  const auto* kbd = FindDevice(t, "keyboard");
  ASSERT_NE(kbd, nullptr);
  EXPECT_EQ(kbd->decision().action(), v1::ACTION_ALLOW);

  EXPECT_EQ(t.summary().status(), v1::COMPLIANCE_STATUS_COMPLIANT) << t.DebugString();
  for (const char* name : {"reporting", "policy_current", "enforcement_active",
                           "no_unapproved_storage", "clock_skew"}) {
    const auto* c = Check(t, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c->result(), v1::CHECK_RESULT_PASS) << name << ": " << c->evidence();
    EXPECT_FALSE(c->evidence().empty()) << name;
  }

  // The blocked stick is on record as an event with the rule that matched.
  ASSERT_TRUE(WaitUntil(
      [&] { return HasEvent("suita-hoken-001", v1::EVENT_KIND_DEVICE_BLOCKED, "UNREGISTERED01"); },
      seconds(10)));

  // Hot plug: a new stick is noticed, reported and recorded within seconds.
  a.Plug("stick2", StickYaml("UNREGISTERED02", "0951", "1666"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto d = Terminal("suita-hoken-001");
        return d && FindDevice(*d, "stick2") != nullptr &&
               HasEvent("suita-hoken-001", v1::EVENT_KIND_DEVICE_BLOCKED, "UNREGISTERED02");
      },
      seconds(10)))
      << a.Log();
  a.Unplug("stick2");
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto d = Terminal("suita-hoken-001");
        return d && FindDevice(*d, "stick2") == nullptr &&
               HasEvent("suita-hoken-001", v1::EVENT_KIND_DEVICE_REMOVED, "UNREGISTERED02");
      },
      seconds(10)))
      << a.Log();

  // Group summaries aggregate up the hierarchy.
  CommandResult status = collector_->Ctl({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("osaka/suita/hoken"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("osaka/toyonaka"), std::string::npos) << status.out;
  grpc::ClientContext ctx;
  v1::GroupSummariesResponse groups;
  ASSERT_TRUE(admin_->GroupSummaries(WithDeadline(&ctx), {}, &groups).ok());
  bool saw_osaka = false;
  for (const auto& g : groups.groups()) {
    if (g.group() == "osaka") {
      saw_osaka = true;
      EXPECT_EQ(g.terminals(), 2u);
      EXPECT_EQ(g.compliant(), 2u);
    }
  }
  EXPECT_TRUE(saw_osaka);

  CommandResult json = collector_->Ctl({"terminals", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::ListTerminalsResponse listed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &listed).ok()) << json.out;
  EXPECT_EQ(listed.total(), 2u);
}

TEST_F(EndToEndTest, PolicyPushReachesAgentsAndChangesDecisions) {
  AgentProcess a(pki_, dir_, *collector_, "suita-hoken-002", "osaka/suita/hoken");
  AgentProcess b(pki_, dir_, *collector_, "suita-kokuho-001", "osaka/suita/kokuho");
  a.Plug("registered", StickYaml(kRegisteredSerial));
  a.Start();
  b.Start();
  ASSERT_TRUE(WaitUntil([&] { return Terminal("suita-hoken-002") && Terminal("suita-kokuho-001"); },
                        seconds(20)));
  {
    const auto before = Terminal("suita-hoken-002");
    ASSERT_TRUE(before.has_value());
    const auto* reg = FindDevice(*before, "registered");
    ASSERT_NE(reg, nullptr);
    EXPECT_EQ(reg->decision().action(), v1::ACTION_BLOCK);
  }

  const std::string policy_file =
      dir_.Write("hoken.yaml", RegisteredStickPolicy("hoken-standard", kRegisteredSerial));
  CommandResult applied =
      collector_->Ctl({"policy", "apply", policy_file, "--group", "osaka/suita"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;

  // Both terminals sit below osaka/suita and inherit the policy.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto ta = Terminal("suita-hoken-002");
        auto tb = Terminal("suita-kokuho-001");
        return ta && tb && ta->summary().applied_policy_version() > 0 &&
               ta->summary().applied_policy_version() == ta->summary().assigned_policy_version() &&
               tb->summary().applied_policy_version() == ta->summary().assigned_policy_version();
      },
      seconds(15)))
      << a.Log() << b.Log();
  auto ta = *Terminal("suita-hoken-002");
  const auto* reg = FindDevice(ta, "registered");
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->decision().action(), v1::ACTION_ALLOW);
  EXPECT_EQ(reg->decision().matched_rule(), "registered-sticks");
  EXPECT_EQ(Check(ta, "policy_current")->result(), v1::CHECK_RESULT_PASS);

  CommandResult shown = collector_->Ctl({"policy", "show", "--group", "osaka/suita/hoken"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("hoken-standard"), std::string::npos) << shown.out;
}

TEST_F(EndToEndTest, MalformedPolicyIsRefusedAndNothingIsApplied) {
  const std::string good =
      dir_.Write("good.yaml", RegisteredStickPolicy("hoken-standard", kRegisteredSerial));
  ASSERT_EQ(collector_->Ctl({"policy", "apply", good, "--group", "osaka"}).exit_code, 0);

  const std::string bad = dir_.Write("bad.yaml",
                                     "name: broken\nrules:\n  - name: r1\n    match:\n"
                                     "      vid_pid: \"zz:1\"\n    action: allow\n");
  CommandResult r = collector_->Ctl({"policy", "apply", bad, "--group", "osaka"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.yaml:5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vid_pid"), std::string::npos) << r.err;

  // The collector validates too, whatever the client did.
  grpc::ClientContext ctx;
  v1::ApplyPolicyRequest req;
  req.set_group("osaka");
  req.set_policy_yaml("name: x\nrules: [ {name: a, action: explode, match: {class: hid}} ]\n");
  req.set_source_name("direct.yaml");
  v1::ApplyPolicyResponse resp;
  const grpc::Status s = admin_->ApplyPolicy(WithDeadline(&ctx), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("direct.yaml:"), std::string::npos) << s.error_message();

  grpc::ClientContext ctx2;
  v1::GetPolicyRequest get;
  get.set_group("osaka");
  v1::GetPolicyResponse current;
  ASSERT_TRUE(admin_->GetPolicy(WithDeadline(&ctx2), get, &current).ok());
  EXPECT_EQ(current.bundle().version(), 1u);
  EXPECT_NE(current.bundle().policy_yaml().find("hoken-standard"), std::string::npos);
}

TEST_F(EndToEndTest, CompositeKeyboardWithStorageKeepsOnlyTheKeyboard) {
  AgentProcess a(pki_, dir_, *collector_, "combo-001", "osaka");
  // The simulated format needs a device class; "other" stands in for the
  // class 0 real composite devices declare.
  a.Plug("combo",
         "vendor_id: \"046d\"\nproduct_id: \"c52b\"\nserial: \"KB-COMBO\"\nclass: other\n"
         "interfaces: [hid, mass_storage]\n");
  a.Start();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto t = Terminal("combo-001");
        return t && t->devices_size() == 1 &&
               HasEvent("combo-001", v1::EVENT_KIND_DEVICE_BLOCKED, "KB-COMBO");
      },
      seconds(20)))
      << a.Log() << collector_->Log();

  // Agent decision -> report -> store -> admin API.
  const auto t = *Terminal("combo-001");
  const v1::Decision& d = t.devices(0).decision();
  EXPECT_EQ(d.action(), v1::ACTION_BLOCK);
  EXPECT_EQ(d.matched_rule(), "default");
  ASSERT_EQ(d.allowed_interface_classes_size(), 1) << d.DebugString();
  EXPECT_EQ(d.allowed_interface_classes(0), v1::DEVICE_CLASS_HID);
  // The storage interface is not usable, so nothing unapproved is.
  EXPECT_EQ(Check(t, "no_unapproved_storage")->result(), v1::CHECK_RESULT_PASS);

  // Agent event -> outbox -> store -> event query.
  bool found = false;
  for (const auto& e : Events("combo-001")) {
    if (e.kind() != v1::EVENT_KIND_DEVICE_BLOCKED) continue;
    found = true;
    EXPECT_NE(e.detail().find("interfaces kept: hid"), std::string::npos) << e.detail();
    ASSERT_EQ(e.device().decision().allowed_interface_classes_size(), 1);
    EXPECT_EQ(e.device().decision().allowed_interface_classes(0), v1::DEVICE_CLASS_HID);
  }
  EXPECT_TRUE(found);

  CommandResult detail = collector_->Ctl({"terminal", "combo-001"});
  ASSERT_EQ(detail.exit_code, 0) << detail.err;
  EXPECT_NE(detail.out.find("block (keeps hid)"), std::string::npos) << detail.out;
  CommandResult events = collector_->Ctl({"events", "--terminal", "combo-001", "--output", "json"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("\"allowedInterfaceClasses\": [\n"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("\"DEVICE_CLASS_HID\""), std::string::npos) << events.out;
}

TEST_F(EndToEndTest, AuditOnlyAndEnforcementFailureMakeTerminalsNonCompliant) {
  AgentProcess audit(pki_, dir_, *collector_, "audit-001", "osaka/test",
                     "enforcement:\n  mode: audit_only\n");
  AgentProcess failing(pki_, dir_, *collector_, "failing-001", "osaka/test");
  failing.Plug("stubborn", StickYaml("STUBBORN1") + "fail_enforcement: true\n");
  audit.Start();
  failing.Start();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto t = Terminal("failing-001");
        return Terminal("audit-001") && t && t->devices_size() == 1;
      },
      seconds(20)));

  auto a = *Terminal("audit-001");
  EXPECT_EQ(a.summary().status(), v1::COMPLIANCE_STATUS_NON_COMPLIANT);
  EXPECT_EQ(Check(a, "enforcement_active")->result(), v1::CHECK_RESULT_FAIL);
  EXPECT_NE(Check(a, "enforcement_active")->evidence().find("audit"), std::string::npos);

  auto f = *Terminal("failing-001");
  EXPECT_EQ(f.summary().status(), v1::COMPLIANCE_STATUS_NON_COMPLIANT);
  EXPECT_EQ(Check(f, "enforcement_active")->result(), v1::CHECK_RESULT_FAIL);
  ASSERT_TRUE(WaitUntil(
      [&] { return HasEvent("failing-001", v1::EVENT_KIND_ENFORCEMENT_FAILURE, "STUBBORN1"); },
      seconds(10)));

  CommandResult detail = collector_->Ctl({"terminal", "failing-001"});
  ASSERT_EQ(detail.exit_code, 0) << detail.err;
  EXPECT_NE(detail.out.find("enforcement_active"), std::string::npos) << detail.out;
  EXPECT_NE(detail.out.find("FAIL"), std::string::npos) << detail.out;

  CommandResult filtered =
      collector_->Ctl({"terminals", "--status", "non_compliant", "--output", "json"});
  ASSERT_EQ(filtered.exit_code, 0) << filtered.err;
  v1::ListTerminalsResponse listed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(filtered.out, &listed).ok());
  EXPECT_EQ(listed.total(), 2u);
}

TEST_F(EndToEndTest, HostileDevicePluggedIntoARealAgentIsShownSafely) {
  AgentProcess a(pki_, dir_, *collector_, "hostile-001", "osaka");
  a.Start();
  // A megabyte-long product string mixing markup, a terminal escape, a bidi
  // override and invalid UTF-8, as a malicious USB device could present it.
  const std::string product = "<img src=x onerror=alert(1)>\x1b]0;pwned\x07\xe2\x80\xae\xff\xfe";
  std::string hex;
  for (unsigned char c : product) {
    static const char* kHex = "0123456789abcdef";
    hex += kHex[c >> 4];
    hex += kHex[c & 0xF];
  }
  hex += std::string(2 * 1024 * 1024, 'a');  // 1 MiB of 0xaa bytes: invalid UTF-8 throughout
  a.Plug("evil",
         "vendor_id: \"dead\"\nproduct_id: \"beef\"\nclass: mass_storage\n"
         "serial: EVIL1\nproduct_hex: \"" +
             hex + "\"\n");
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto t = Terminal("hostile-001");
        return t && FindDevice(*t, "evil") != nullptr;
      },
      seconds(20)))
      << a.Log();
  const auto detail = Terminal("hostile-001");
  ASSERT_TRUE(detail.has_value());
  const auto* evil = FindDevice(*detail, "evil");
  ASSERT_NE(evil, nullptr);
  const std::string& shown = evil->product();
  EXPECT_LE(shown.size(), 256u);
  EXPECT_NE(shown.find("<img src=x onerror=alert(1)>"), std::string::npos) << shown;
  EXPECT_NE(shown.find("\\x1b]0;pwned\\x07"), std::string::npos) << shown;
  EXPECT_NE(shown.find("\\u202e"), std::string::npos) << shown;
  EXPECT_EQ(shown.find('\x1b'), std::string::npos);
  EXPECT_EQ(evil->decision().action(), v1::ACTION_BLOCK);

  CommandResult table = collector_->Ctl({"terminal", "hostile-001"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  for (char bad : {'\x1b', '\x07'}) EXPECT_EQ(table.out.find(bad), std::string::npos);
  EXPECT_EQ(table.out.find("\xe2\x80\xae"), std::string::npos);  // no raw bidi override
  // Events travel apart from the snapshot (journaled, then batched), so the
  // block event may arrive a moment after the device shows up.
  CommandResult events;
  bool blocked = false;
  WaitUntil(
      [&] {
        events = collector_->Ctl({"events", "--terminal", "hostile-001", "--output", "json"});
        if (events.exit_code != 0) return false;
        v1::QueryEventsResponse parsed;
        if (!google::protobuf::util::JsonStringToMessage(events.out, &parsed).ok()) return false;
        for (const auto& e : parsed.events()) {
          if (e.kind() == v1::EVENT_KIND_DEVICE_BLOCKED && e.device().serial() == "EVIL1") {
            blocked = true;
            EXPECT_LE(e.device().product().size(), 256u);
          }
        }
        return blocked;
      },
      seconds(20));
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_TRUE(blocked) << events.out;
}

TEST_F(EndToEndTest, CleanShutdownAndRestartKeepsData) {
  AgentProcess a(pki_, dir_, *collector_, "persist-001", "osaka");
  a.Plug("stick", StickYaml("PERSIST1"));
  a.Start();
  ASSERT_TRUE(WaitUntil([&] { return Terminal("persist-001").has_value(); }, seconds(20)));

  collector_->process().Signal(SIGTERM);
  EXPECT_EQ(collector_->process().Wait(seconds(10)), 0) << collector_->Log();
  EXPECT_NE(collector_->Log().find("shutdown complete"), std::string::npos);

  ASSERT_TRUE(collector_->Start()) << collector_->Log();
  admin_ = collector_->Admin(pki_.Admin());
  auto t = Terminal("persist-001");
  ASSERT_TRUE(t.has_value());
  EXPECT_NE(FindDevice(*t, "stick"), nullptr);

  // The agent reconnects to the restarted collector on its own: a device
  // plugged now reaches it, with its event.
  a.Plug("after-restart", StickYaml("AFTER1"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto d = Terminal("persist-001");
        return d && FindDevice(*d, "after-restart") != nullptr &&
               HasEvent("persist-001", v1::EVENT_KIND_DEVICE_BLOCKED, "AFTER1");
      },
      seconds(15)))
      << a.Log() << collector_->Log();

  a.process().Signal(SIGTERM);
  EXPECT_EQ(a.process().Wait(seconds(10)), 0) << a.Log();
}

TEST(CollectorConfigTest, MalformedConfigNamesFileLineAndFieldAndCreatesNothing) {
  TempDir dir;
  const std::string db = dir.File("never.db");
  const std::string cfg =
      dir.Write("collector.yaml",
                "listen: 127.0.0.1:0\n"
                "tls:\n  ca_file: ca.pem\n  cert_file: c.pem\n  key_file: k.pem\n"
                "store:\n  path: " +
                    db +
                    "\n  synchronous: sometimes\n"
                    "compliance:\n  max_clock_skew: soon\n");
  CommandResult r = RunCommand({MAMORI_COLLECTOR_BIN, "--config", cfg});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("collector.yaml:8"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("store.synchronous"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("compliance.max_clock_skew"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db));

  CommandResult usage = RunCommand({MAMORI_COLLECTOR_BIN, "--bogus"});
  EXPECT_EQ(usage.exit_code, 2);
  CommandResult help = RunCommand({MAMORI_COLLECTOR_BIN, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--config"), std::string::npos);
}

TEST(CollectorConfigTest, MissingCertificateFileIsNamed) {
  TempDir dir;
  TestPki pki;
  const TlsPaths server = pki.Server();
  const std::string cfg =
      dir.Write("collector.yaml", "listen: 127.0.0.1:0\ntls:\n  ca_file: " + server.ca +
                                      "\n  cert_file: " + dir.File("missing.pem") +
                                      "\n  key_file: " + server.key +
                                      "\npolicy:\n  signing_key_file: " + pki.PolicyKey().key +
                                      "\nstore:\n  path: " + dir.File("x.db") + "\n");
  CommandResult r = RunCommand({MAMORI_COLLECTOR_BIN, "--config", cfg});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.pem"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mamori::testing
