#include "server/ctl/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace mamori::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kJan1 = 1767225600;  // 2026-01-01T00:00:00Z

template <typename Fn, typename Msg>
std::string Render(Fn fn, const Msg& msg) {
  std::ostringstream out;
  fn(msg, out);
  return out.str();
}

TEST(RenderTest, GroupSummaries) {
  v1::GroupSummariesResponse r;
  auto* all = r.add_groups();
  all->set_terminals(4);
  all->set_compliant(3);
  all->set_non_compliant(1);
  auto* g = r.add_groups();
  g->set_group("osaka/suita");
  auto* h = r.add_groups();
  h->set_group("osaka/suita/hoken");
  h->set_terminals(3);
  h->set_compliant(2);
  h->set_unknown(1);
  const std::string text = Render(RenderGroupSummaries, r);
  EXPECT_THAT(text, HasSubstr("GROUP"));
  EXPECT_THAT(text, HasSubstr("% COMPLIANT"));
  EXPECT_THAT(text, HasSubstr("(all)"));
  EXPECT_THAT(text, HasSubstr("75.0"));
  EXPECT_THAT(text, HasSubstr("66.7"));
  // A group without terminals has no percentage rather than 0 or NaN.
  EXPECT_THAT(text, Not(HasSubstr("nan")));
}

TEST(RenderTest, TerminalList) {
  v1::ListTerminalsResponse r;
  auto* t = r.add_terminals();
  t->set_terminal_id("t-001");
  t->set_group("osaka/suita");
  t->set_status(v1::COMPLIANCE_STATUS_NON_COMPLIANT);
  t->add_failing_checks("reporting");
  t->add_failing_checks("policy_current");
  t->mutable_last_report()->set_seconds(kJan1);
  t->set_applied_policy_version(3);
  t->set_assigned_policy_version(4);
  auto* never = r.add_terminals();
  never->set_terminal_id("t-002");
  never->set_status(v1::COMPLIANCE_STATUS_UNKNOWN);
  r.set_total(5);
  const std::string text = Render(RenderTerminalList, r);
  EXPECT_THAT(text, HasSubstr("FAILING CHECKS"));
  EXPECT_THAT(text, HasSubstr("non_compliant"));
  EXPECT_THAT(text, HasSubstr("reporting, policy_current"));
  EXPECT_THAT(text, HasSubstr("2026-01-01T00:00:00Z"));
  EXPECT_THAT(text, HasSubstr("never"));
  EXPECT_THAT(text, HasSubstr("3/4"));
  EXPECT_THAT(text, HasSubstr("2 of 5 terminals shown"));
}

v1::TerminalDetail HostileDetail() {
  v1::TerminalDetail d;
  d.mutable_summary()->set_terminal_id("t-001");
  d.mutable_summary()->set_group("osaka/suita");
  d.mutable_summary()->set_status(v1::COMPLIANCE_STATUS_NON_COMPLIANT);
  d.set_agent_version("0.1.0");
  d.set_os("Windows 11");
  d.mutable_enforcement()->set_mode(v1::ENFORCEMENT_MODE_ENFORCE);
  d.mutable_enforcement()->set_healthy(true);
  auto* pass = d.add_checks();
  pass->set_name("reporting");
  pass->set_result(v1::CHECK_RESULT_PASS);
  pass->set_evidence("last report 00:00:10 ago");
  auto* fail = d.add_checks();
  fail->set_name("no_unapproved_storage");
  fail->set_result(v1::CHECK_RESULT_FAIL);
  fail->set_evidence("0781:5581 usable");
  auto* dev = d.add_devices();
  dev->set_vid_pid("0781:5581");
  dev->set_device_class(v1::DEVICE_CLASS_MASS_STORAGE);
  dev->set_manufacturer("\x1b]0;owned\x07SanDisk");
  dev->set_product("Ultra\x1b[2J\u202Ekcolb");
  dev->set_serial("4C53\r\n0001");
  dev->mutable_decision()->set_action(v1::ACTION_BLOCK);
  dev->mutable_decision()->set_matched_rule("default");
  dev->mutable_decision()->set_enforced(true);
  auto* ev = d.add_recent_events();
  ev->set_terminal_id("t-001");
  ev->set_kind(v1::EVENT_KIND_DEVICE_BLOCKED);
  ev->set_severity(v1::SEVERITY_ALERT);
  ev->mutable_time()->set_seconds(kJan1);
  *ev->mutable_device() = *dev;
  ev->set_user("山田");
  return d;
}

TEST(RenderTest, TerminalDetailFailingChecksFirstAndHostileStringsEscaped) {
  const std::string text = Render(RenderTerminalDetail, HostileDetail());
  EXPECT_THAT(text, HasSubstr("Terminal:"));
  EXPECT_THAT(text, HasSubstr("Windows 11"));
  EXPECT_LT(text.find("no_unapproved_storage"), text.find("reporting"));
  EXPECT_THAT(text, HasSubstr("FAIL"));
  EXPECT_THAT(text, HasSubstr("mass_storage"));
  EXPECT_THAT(text, HasSubstr("block"));
  EXPECT_THAT(text, HasSubstr("device_blocked"));
  EXPECT_THAT(text, HasSubstr("alert"));
  EXPECT_THAT(text, HasSubstr("山田"));
  // No raw control or bidi characters reach the terminal.
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
  EXPECT_THAT(text, Not(HasSubstr("\x07")));
  EXPECT_THAT(text, Not(HasSubstr("\r")));
  EXPECT_THAT(text, Not(HasSubstr("\u202E")));
  EXPECT_THAT(text, HasSubstr("\\x1b]0;owned\\x07"));
  EXPECT_THAT(text, HasSubstr("4C53\\x0d\\x0a0001"));
  EXPECT_THAT(text, HasSubstr("\\u202e"));
}

TEST(RenderTest, NewClassesAndTheDefaultThatDecidedAreShown) {
  v1::TerminalDetail d;
  d.mutable_summary()->set_terminal_id("t-001");
  auto* phone = d.add_devices();
  phone->set_vid_pid("18d1:4ee3");
  phone->set_device_class(v1::DEVICE_CLASS_NETWORK);
  phone->mutable_decision()->set_action(v1::ACTION_BLOCK);
  phone->mutable_decision()->set_matched_rule("default:network");
  auto* reader = d.add_devices();
  reader->set_vid_pid("04e6:5116");
  reader->set_device_class(v1::DEVICE_CLASS_SMART_CARD);
  reader->mutable_decision()->set_action(v1::ACTION_ALLOW);
  reader->mutable_decision()->set_matched_rule("default:smart_card");
  auto* kb = d.add_devices();
  kb->set_vid_pid("1234:4321");
  kb->set_device_class(v1::DEVICE_CLASS_NETWORK);
  kb->mutable_decision()->set_action(v1::ACTION_BLOCK);
  kb->mutable_decision()->set_matched_rule("default:network");
  kb->mutable_decision()->add_allowed_interface_classes(v1::DEVICE_CLASS_HID);
  const std::string text = Render(RenderTerminalDetail, d);
  EXPECT_THAT(text, HasSubstr("network"));
  EXPECT_THAT(text, HasSubstr("default:network"));
  EXPECT_THAT(text, HasSubstr("smart_card"));
  EXPECT_THAT(text, HasSubstr("default:smart_card"));
  EXPECT_THAT(text, HasSubstr("block (keeps hid)"));
}

TEST(RenderTest, BlockedCompositeDeviceShowsTheInterfacesItKeeps) {
  v1::TerminalDetail d;
  d.mutable_summary()->set_terminal_id("t-001");
  auto* combo = d.add_devices();
  combo->set_vid_pid("046d:c31c");
  combo->add_interface_classes(v1::DEVICE_CLASS_HID);
  combo->add_interface_classes(v1::DEVICE_CLASS_MASS_STORAGE);
  combo->mutable_decision()->set_action(v1::ACTION_BLOCK);
  combo->mutable_decision()->set_matched_rule("default");
  combo->mutable_decision()->add_allowed_interface_classes(v1::DEVICE_CLASS_PRINTER);
  combo->mutable_decision()->add_allowed_interface_classes(v1::DEVICE_CLASS_HID);
  auto* stick = d.add_devices();
  stick->set_vid_pid("0781:5581");
  stick->mutable_decision()->set_action(v1::ACTION_BLOCK);
  stick->mutable_decision()->set_matched_rule("no-storage");

  const std::string text = Render(RenderTerminalDetail, d);
  EXPECT_THAT(text, HasSubstr("block (keeps printer, hid)"));
  // The stick's row says plain "block".
  const std::size_t row = text.find("0781:5581");
  ASSERT_NE(row, std::string::npos);
  const std::string stick_row = text.substr(row, text.find('\n', row) - row);
  EXPECT_THAT(stick_row, HasSubstr("block"));
  EXPECT_THAT(stick_row, Not(HasSubstr("keeps")));

  Result<std::string> json = ToJson(d);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr("\"allowedInterfaceClasses\""));
  EXPECT_THAT(*json, HasSubstr("\"DEVICE_CLASS_PRINTER\""));
}

TEST(RenderTest, EmptyDetailSections) {
  v1::TerminalDetail d;
  d.mutable_summary()->set_terminal_id("t-9");
  const std::string text = Render(RenderTerminalDetail, d);
  EXPECT_THAT(text, HasSubstr("Devices\n(none)"));
  EXPECT_THAT(text, HasSubstr("Recent events\n(none)"));
  EXPECT_THAT(text, HasSubstr("never"));
}

TEST(RenderTest, PolicyWithHeaderAsComments) {
  v1::GetPolicyResponse r;
  r.set_inherited(true);
  auto* b = r.mutable_bundle();
  b->set_version(7);
  b->set_group("osaka");
  b->set_applied_by("mamori://admin/alice");
  b->mutable_applied_at()->set_seconds(kJan1);
  b->set_policy_yaml("name: standard\ndescription: 標準\x1b[31m\n");
  std::ostringstream out;
  RenderPolicy(r, "osaka/suita", out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("# version:     7\n"));
  EXPECT_THAT(text, HasSubstr("# inherited from: osaka\n"));
  EXPECT_THAT(text, HasSubstr("# applied by:  mamori://admin/alice\n"));
  EXPECT_THAT(text, HasSubstr("# applied at:  2026-01-01T00:00:00Z\n"));
  EXPECT_THAT(text, HasSubstr("name: standard\ndescription: 標準\\x1b[31m\n"));

  std::ostringstream none;
  RenderPolicy(v1::GetPolicyResponse(), "osaka", none);
  EXPECT_THAT(none.str(), HasSubstr("built-in default"));
}

TEST(RenderTest, JsonUsesProtobufMapping) {
  v1::ListTerminalsResponse r;
  r.add_terminals()->set_terminal_id("t-\x1b");
  Result<std::string> json = ToJson(r);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr("\"terminalId\": \"t-\\u001b\""));
  EXPECT_THAT(*json, HasSubstr("\"total\": 0"));  // zero values are printed
}

TEST(RenderTest, EnumNames) {
  EXPECT_EQ(EventKindName(v1::EVENT_KIND_DEVICE_BLOCKED), "device_blocked");
  EXPECT_EQ(ComplianceStatusName(v1::COMPLIANCE_STATUS_NON_COMPLIANT), "non_compliant");
}

}  // namespace
}  // namespace mamori::ctl
