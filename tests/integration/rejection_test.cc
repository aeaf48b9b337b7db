// The collector's refusal matrix, each case against a real collector process
// over real mutual TLS on loopback: the call must fail with the right code
// and the collector must log why.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "proto/wire/convert.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

class RejectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    collector_ =
        std::make_unique<CollectorProcess>(pki_, dir_, "limits:\n  max_message_bytes: 65536\n");
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
  }

  static v1::StateReport MinimalReport() {
    v1::StateReport r;
    r.set_hostname("pc-01");
    r.set_agent_version("test");
    r.set_report_interval_seconds(60);
    r.mutable_enforcement()->set_mode(v1::ENFORCEMENT_MODE_ENFORCE);
    r.mutable_enforcement()->set_healthy(true);
    SetMs(std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count(),
          r.mutable_agent_time());
    return r;
  }

  grpc::Status Report(const TlsPaths& creds, const v1::StateReport& r) {
    auto stub = collector_->Agent(creds);
    grpc::ClientContext ctx;
    v1::StateAck ack;
    return stub->ReportState(WithDeadline(&ctx), r, &ack);
  }

  TempDir dir_;
  TestPki pki_;
  std::unique_ptr<CollectorProcess> collector_;
};

TEST_F(RejectionTest, GenuineTerminalIsAccepted) {
  // The baseline for every refusal below: the same call with good credentials works.
  const grpc::Status s = Report(pki_.IssueTerminal("t-ok", "osaka"), MinimalReport());
  EXPECT_TRUE(s.ok()) << s.error_message() << "\n" << collector_->Log();
}

TEST_F(RejectionTest, NoClientCertificate) {
  auto stub = v1::AgentService::NewStub(collector_->Channel(std::nullopt));
  grpc::ClientContext ctx;
  v1::StateAck ack;
  const grpc::Status s = stub->ReportState(WithDeadline(&ctx, 5), MinimalReport(), &ack);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(collector_->WaitForLog("no client certificate", std::chrono::seconds(5)))
      << collector_->Log();
}

TEST_F(RejectionTest, CertificateFromAnotherCa) {
  const grpc::Status s = Report(pki_.IssueFromOtherCa("t-foreign"), MinimalReport());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error_code(), grpc::StatusCode::OK);
  EXPECT_TRUE(collector_->WaitForLog("t-foreign rejected", std::chrono::seconds(5)))
      << collector_->Log();
}

TEST_F(RejectionTest, ExpiredCertificate) {
  const grpc::Status s = Report(pki_.IssueExpiredTerminal("t-expired"), MinimalReport());
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(collector_->WaitForLog("expired", std::chrono::seconds(5))) << collector_->Log();
  EXPECT_NE(collector_->Log().find("t-expired"), std::string::npos);
}

TEST_F(RejectionTest, AgentCertificateOnAdminCall) {
  auto stub = collector_->Admin(pki_.IssueTerminal("t-sneaky", "osaka"));
  grpc::ClientContext ctx;
  v1::ListTerminalsRequest req;
  v1::ListTerminalsResponse resp;
  const grpc::Status s = stub->ListTerminals(WithDeadline(&ctx), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_TRUE(collector_->WaitForLog("ListTerminals from", std::chrono::seconds(5)));
  EXPECT_NE(collector_->Log().find("terminal certificate 't-sneaky' may not call"),
            std::string::npos)
      << collector_->Log();
}

TEST_F(RejectionTest, AgentCertificateOnPolicyHistoryAndDryRun) {
  auto stub = collector_->Admin(pki_.IssueTerminal("t-curious", "osaka"));
  {
    grpc::ClientContext ctx;
    v1::PolicyHistoryRequest req;
    req.set_group("osaka");
    v1::PolicyHistoryResponse resp;
    const grpc::Status s = stub->PolicyHistory(WithDeadline(&ctx), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_TRUE(collector_->WaitForLog("PolicyHistory from", std::chrono::seconds(5)))
        << collector_->Log();
  }
  {
    // A dry run changes nothing but still reveals terminals and devices.
    grpc::ClientContext ctx;
    v1::ApplyPolicyRequest req;
    req.set_group("osaka");
    req.set_policy_yaml(
        "name: p\nrules:\n  - name: r\n    match: {class: hid}\n    action: allow\n");
    req.set_dry_run(true);
    v1::ApplyPolicyResponse resp;
    const grpc::Status s = stub->ApplyPolicy(WithDeadline(&ctx), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_TRUE(collector_->WaitForLog("ApplyPolicy from", std::chrono::seconds(5)))
        << collector_->Log();
  }
}

TEST_F(RejectionTest, AdminCertificateOnAgentCall) {
  const grpc::Status s = Report(pki_.Admin(), MinimalReport());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_TRUE(collector_->WaitForLog("ReportState from", std::chrono::seconds(5)));
}

TEST_F(RejectionTest, BodyClaimingAnotherTerminal) {
  v1::StateReport r = MinimalReport();
  r.set_terminal_id("t-victim");
  const grpc::Status s = Report(pki_.IssueTerminal("t-liar", "osaka"), r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_TRUE(collector_->WaitForLog("'t-liar' sent a message claiming terminal 't-victim'",
                                     std::chrono::seconds(5)))
      << collector_->Log();
  // Nothing was stored under either name.
  auto admin = collector_->Admin(pki_.Admin());
  grpc::ClientContext ctx;
  v1::ListTerminalsResponse resp;
  ASSERT_TRUE(admin->ListTerminals(WithDeadline(&ctx), {}, &resp).ok());
  EXPECT_EQ(resp.total(), 0u);

  v1::EventBatch batch;
  batch.set_terminal_id("t-victim");
  auto agent = collector_->Agent(pki_.IssueTerminal("t-liar2", "osaka"));
  grpc::ClientContext ctx2;
  v1::EventAck ack;
  EXPECT_EQ(agent->ReportEvents(WithDeadline(&ctx2), batch, &ack).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(RejectionTest, MessageOverTheSizeLimit) {
  const TlsPaths t = pki_.IssueTerminal("t-big", "osaka");
  v1::StateReport r = MinimalReport();
  auto* d = r.add_devices();
  d->set_device_id("big");
  d->mutable_identity()->set_product(std::string(100 * 1024, 'A'));  // over 64 KiB
  grpc::Status s = Report(t, r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_TRUE(
      collector_->WaitForLog("from terminal 't-big' at ipv4:127.0.0.1:", std::chrono::seconds(5)))
      << collector_->Log();

  // Far beyond the limit the transport itself refuses; the collector stays up.
  d->mutable_identity()->set_product(std::string(1024 * 1024, 'B'));
  s = Report(t, r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_TRUE(Report(t, MinimalReport()).ok());
}

TEST_F(RejectionTest, HostileDeviceStringsAreStoredBoundedAndSafe) {
  const TlsPaths t = pki_.IssueTerminal("t-hostile", "osaka");
  v1::StateReport r = MinimalReport();
  auto* d = r.add_devices();
  d->set_device_id("evil");
  auto* id = d->mutable_identity();
  id->set_vendor_id(0x1234);
  id->set_product_id(0x5678);
  id->set_device_class(v1::DEVICE_CLASS_MASS_STORAGE);
  id->set_product("<script>alert('x')</script>\x1b[2J\x07");
  id->set_manufacturer(std::string("Bad\xff\xfe\xc0\xafUTF8", 12));
  id->set_serial(std::string(60 * 1024, 'S'));  // stays under the 64 KiB message limit
  d->mutable_decision()->set_action(v1::ACTION_BLOCK);
  d->mutable_decision()->set_matched_rule("default");
  d->mutable_decision()->set_enforced(true);
  ASSERT_TRUE(Report(t, r).ok());

  auto admin = collector_->Admin(pki_.Admin());
  grpc::ClientContext ctx;
  v1::GetTerminalRequest req;
  req.set_terminal_id("t-hostile");
  v1::TerminalDetail detail;
  ASSERT_TRUE(admin->GetTerminal(WithDeadline(&ctx), req, &detail).ok());
  ASSERT_EQ(detail.devices_size(), 1);
  const auto& got = detail.devices(0);
  EXPECT_EQ(got.product().find('\x1b'), std::string::npos);
  EXPECT_EQ(got.product().find('\x07'), std::string::npos);
  EXPECT_NE(got.product().find("\\x1b[2J"), std::string::npos) << got.product();
  EXPECT_NE(got.product().find("<script>"), std::string::npos);  // kept as text; escaped when shown
  EXPECT_LE(got.serial().size(), 256u);
  EXPECT_EQ(got.manufacturer().find('\xff'), std::string::npos);
  EXPECT_NE(got.manufacturer().find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD

  // Shown by the CLI: no raw control characters reach the terminal.
  CommandResult table = collector_->Ctl({"terminal", "t-hostile"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(table.out.find('\x07'), std::string::npos);
  CommandResult json = collector_->Ctl({"terminal", "t-hostile", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::TerminalDetail parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok()) << json.out;
}

}  // namespace
}  // namespace mamori::testing
