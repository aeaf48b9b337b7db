// `mamorictl policy apply --dry-run` and `policy history` against a real
// collector and a real agent with a simulated stick: the dry run lists the
// stick a blocking policy would block and stores nothing; the real apply
// then does, and the history shows both versions with the admin's identity.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "tests/integration/collector_test.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

using std::chrono::seconds;

constexpr char kSerial[] = "DRYRUN0000000001";

std::string AllowPolicy() {
  return std::string(
             "name: ledger\n"
             "registered_media:\n"
             "  - serial: \"") +
         kSerial +
         "\"\n"
         "    vid_pid: \"0781:5581\"\n"
         "    owner: 山田太郎\n"
         "rules:\n"
         "  - name: registered-sticks\n"
         "    match:\n"
         "      registered_media: true\n"
         "    action: allow\n";
}

constexpr char kBlockPolicy[] =
    "name: lockdown\n"
    "defaults:\n"
    "  storage: block\n"
    "rules:\n"
    "  - name: phones\n"
    "    match:\n"
    "      class: still_image\n"
    "    action: block\n";

class PolicyDryRunIntegrationTest : public CollectorTest {
 protected:
  // The stick's decision as the agent last reported it (UNSPECIFIED while
  // the stick has not been reported).
  v1::Action StickAction(const std::string& terminal) {
    auto t = Terminal(terminal);
    if (!t) return v1::ACTION_UNSPECIFIED;
    for (const auto& d : t->devices()) {
      if (d.serial() == kSerial) return d.decision().action();
    }
    return v1::ACTION_UNSPECIFIED;
  }
};

TEST_F(PolicyDryRunIntegrationTest, DryRunListsTheStickThenApplyAndHistory) {
  const std::string allow = dir_.Write("allow.yaml", AllowPolicy());
  CommandResult r = collector_->Ctl({"policy", "apply", allow, "--group", "osaka"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  AgentProcess agent(pki_, dir_, *collector_, "dry-001", "osaka/suita");
  agent.Plug("keyboard", KeyboardYaml());
  agent.Plug("stick", StickYaml(kSerial));
  agent.Start();
  // The dry run judges the reported devices with the collector's own rule
  // engine, so it only needs the stick to have been reported, whatever the
  // agent decided.
  ASSERT_TRUE(
      WaitUntil([&] { return StickAction("dry-001") != v1::ACTION_UNSPECIFIED; }, seconds(20)))
      << agent.Log() << collector_->Log();

  // Dry run: the stick is listed with both decisions, nothing is stored.
  const std::string block = dir_.Write("block.yaml", kBlockPolicy);
  r = collector_->Ctl({"policy", "apply", block, "--group", "osaka", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err << collector_->Log();
  EXPECT_NE(r.out.find("Dry run: nothing was stored."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("version 1 of osaka"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-name: ledger"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("+name: lockdown"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dry-001"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(kSerial), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("registered-sticks"), std::string::npos) << r.out;

  r = collector_->Ctl(
      {"policy", "apply", block, "--group", "osaka", "--dry-run", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::ApplyPolicyResponse dry;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &dry).ok()) << r.out;
  EXPECT_EQ(dry.version(), 0u);
  EXPECT_EQ(dry.dry_run().current_version(), 1u);
  EXPECT_EQ(dry.dry_run().current_group(), "osaka");
  EXPECT_FALSE(dry.dry_run().current_inherited());
  ASSERT_EQ(dry.dry_run().changes_size(), 1) << r.out;  // the keyboard stays allowed
  const v1::DecisionChange& change = dry.dry_run().changes(0);
  EXPECT_EQ(change.terminal_id(), "dry-001");
  EXPECT_EQ(change.group(), "osaka/suita");
  EXPECT_EQ(change.device().vid_pid(), "0781:5581");
  EXPECT_EQ(change.device().serial(), kSerial);
  EXPECT_EQ(change.device().product(), "Ultra");
  EXPECT_EQ(change.old_decision().action(), v1::ACTION_ALLOW);
  EXPECT_EQ(change.old_decision().matched_rule(), "registered-sticks");
  EXPECT_EQ(change.new_decision().action(), v1::ACTION_BLOCK);
  EXPECT_EQ(change.new_decision().matched_rule(), "default");

  {
    grpc::ClientContext ctx;
    v1::GetPolicyRequest get;
    get.set_group("osaka");
    v1::GetPolicyResponse current;
    ASSERT_TRUE(admin_->GetPolicy(WithDeadline(&ctx), get, &current).ok());
    EXPECT_EQ(current.bundle().version(), 1u);  // nothing stored
  }

  // The real apply stores version 2; dry-running the same file again then
  // changes nothing.
  r = collector_->Ctl({"policy", "apply", block, "--group", "osaka"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("version 2"), std::string::npos) << r.out;
  r = collector_->Ctl({"policy", "apply", block, "--group", "osaka", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("version 2 of osaka"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(the policy document is unchanged)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(no device would change decision)"), std::string::npos) << r.out;

  // The history: both versions, newest first, with the admin identity.
  r = collector_->Ctl({"policy", "history", "--group", "osaka"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mamori://admin/admin"), std::string::npos) << r.out;
  EXPECT_LT(r.out.find("lockdown"), r.out.find("ledger")) << r.out;

  r = collector_->Ctl({"policy", "history", "--group", "osaka", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::PolicyHistoryResponse history;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &history).ok()) << r.out;
  ASSERT_EQ(history.entries_size(), 2) << r.out;
  EXPECT_EQ(history.entries(0).version(), 2u);
  EXPECT_EQ(history.entries(0).policy_name(), "lockdown");
  EXPECT_EQ(history.entries(0).first_line(), "name: lockdown");
  EXPECT_EQ(history.entries(0).yaml_bytes(), std::string(kBlockPolicy).size());
  EXPECT_EQ(history.entries(1).version(), 1u);
  EXPECT_EQ(history.entries(1).policy_name(), "ledger");
  for (const auto& e : history.entries()) {
    EXPECT_EQ(e.group(), "osaka");
    EXPECT_EQ(e.applied_by(), "mamori://admin/admin");
    EXPECT_TRUE(e.has_applied_at());
  }

  r = collector_->Ctl(
      {"policy", "history", "--group", "osaka", "--limit", "1", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &history).ok()) << r.out;
  ASSERT_EQ(history.entries_size(), 1);
  EXPECT_EQ(history.entries(0).version(), 2u);
}

TEST_F(PolicyDryRunIntegrationTest, DryRunOfAnInvalidPolicyFailsLikeTheRealApply) {
  v1::ApplyPolicyRequest req;
  req.set_group("osaka");
  req.set_policy_yaml("name: x\nrules: [ {name: a, action: explode, match: {class: hid}} ]\n");
  req.set_source_name("direct.yaml");
  grpc::ClientContext ctx;
  v1::ApplyPolicyResponse real;
  const grpc::Status real_status = admin_->ApplyPolicy(WithDeadline(&ctx), req, &real);
  req.set_dry_run(true);
  grpc::ClientContext ctx2;
  v1::ApplyPolicyResponse dry;
  const grpc::Status dry_status = admin_->ApplyPolicy(WithDeadline(&ctx2), req, &dry);
  EXPECT_EQ(dry_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(dry_status.error_code(), real_status.error_code());
  EXPECT_EQ(dry_status.error_message(), real_status.error_message());
  EXPECT_NE(dry_status.error_message().find("direct.yaml:"), std::string::npos);
}

}  // namespace
}  // namespace mamori::testing
