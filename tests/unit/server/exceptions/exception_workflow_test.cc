// Time-limited exceptions on the collector: the store, the merge into
// policies, and the workflow with a real store, policy hub and audit log.

#include "server/exceptions/exception_workflow.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "common/policy/policy_parser.h"
#include "common/policy/policy_signing.h"
#include "proto/wire/convert.h"
#include "server/audit/audit_trail.h"
#include "server/policy/exception_policy.h"
#include "server/policy/policy_hub.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'800'000'000'000;  // 2027-01-15T08:00:00Z
constexpr int64_t kHour = 3'600'000;

class SettableClock final : public Clock {
 public:
  int64_t NowMs() const override { return now_ms.load(); }
  std::atomic<int64_t> now_ms{kNow};
};

const PolicySigningKey& Key() {
  static const PolicySigningKey key = PolicySigningKey::Generate().value();
  return key;
}

ExceptionRequest Approved(int64_t id, std::string terminal, std::string group) {
  ExceptionRequest r;
  r.id = id;
  r.terminal_id = std::move(terminal);
  r.group = std::move(group);
  r.vendor_id = 0x0781;
  r.product_id = 0x5581;
  r.serial = "S" + std::to_string(id);
  r.from_ms = kNow;
  r.until_ms = kNow + kHour;
  r.state = ExceptionRequestState::kApproved;
  return r;
}

std::vector<std::string> Ids(const std::vector<DeviceException>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.id);
  return out;
}

TEST(ExceptionPolicyTest, ScopeOfTerminalAndGroupExceptions) {
  const std::vector<ExceptionRequest> approved = {
      Approved(1, "t-1", "osaka/suita"),  // a terminal of osaka/suita
      Approved(2, "", "osaka"),           // every terminal of osaka
      Approved(3, "", "osaka/suita/hoken"),
      Approved(4, "t-2", "kyoto"),
  };
  // The terminal's group and its ancestors carry a terminal's exception; a
  // group's exception reaches the group and its descendants.
  EXPECT_EQ(Ids(MergedExceptions({}, "osaka/suita", approved)),
            (std::vector<std::string>{"EX-1", "EX-2"}));
  EXPECT_EQ(Ids(MergedExceptions({}, "osaka", approved)),
            (std::vector<std::string>{"EX-1", "EX-2"}));
  EXPECT_EQ(Ids(MergedExceptions({}, "osaka/suita/hoken", approved)),
            (std::vector<std::string>{"EX-2", "EX-3"}));
  EXPECT_EQ(Ids(MergedExceptions({}, "kyoto", approved)), (std::vector<std::string>{"EX-4"}));
  // The document's own exceptions stay unless they claim a collector id.
  DeviceException own;
  own.id = "manual-1";
  DeviceException claimed;
  claimed.id = "EX-9";
  EXPECT_EQ(Ids(MergedExceptions({own, claimed}, "kyoto", approved)),
            (std::vector<std::string>{"manual-1", "EX-4"}));
}

TEST(ExceptionPolicyTest, MergeKeepsTheRestOfTheDocumentAndRoundTrips) {
  const std::string doc =
      "# 保険課\nname: standard\ndefaults:\n  storage: block  # keep\nrules:\n"
      "  - name: kbd\n    match: {class: hid}\n    action: allow\n";
  ExceptionRequest r = Approved(7, "t-1", "osaka");
  r.reason = "監査資料の受け渡し \"quoted\"";
  r.serial = "SER: 1";
  auto merged = MergeExceptionsIntoPolicy(doc, "osaka", {r}, "doc");
  ASSERT_TRUE(merged.ok()) << merged.error().message;
  EXPECT_THAT(*merged,
              HasSubstr("# 保険課\nname: standard\ndefaults:\n  storage: block  # keep\n"));
  auto parsed = ParsePolicy(*merged, "merged");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->exceptions.size(), 1u);
  const DeviceException& e = parsed->exceptions[0];
  EXPECT_EQ(e.id, "EX-7");
  EXPECT_EQ(e.terminal_id, "t-1");
  EXPECT_EQ(e.serial, "SER: 1");
  EXPECT_EQ(e.vendor_id, 0x0781);
  EXPECT_EQ(e.not_before_ms, kNow);
  EXPECT_EQ(e.not_after_ms, kNow + kHour);
  EXPECT_EQ(e.reason, r.reason);
  ASSERT_EQ(parsed->rules.size(), 1u);
  // Nothing to change: the very same bytes.
  auto again = MergeExceptionsIntoPolicy(*merged, "osaka", {r}, "doc");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *merged);
  // None approved any more: the section empties.
  auto none = MergeExceptionsIntoPolicy(*merged, "osaka", {}, "doc");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(ParsePolicy(*none, "none")->exceptions.empty());
  EXPECT_THAT(*none, HasSubstr("exceptions: []"));
}

class ExceptionWorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("exceptions.db"), SqliteOptions{});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    hub_ = std::make_unique<PolicyHub>(store_.get(), &clock_, Key());
    ASSERT_TRUE(hub_->Load().ok());
    audit_ = std::make_unique<StoreAuditTrail>(store_.get(), &clock_);
    MakeWorkflow(ExceptionSettings{});
    TerminalState t;
    t.terminal_id = "t-0042";
    t.group = "osaka/suita";
    t.hostname = "pc-42";
    t.last_report_ms = kNow;
    ASSERT_TRUE(store_->PutTerminalState(t).ok());
  }

  void MakeWorkflow(ExceptionSettings settings) {
    workflow_ = std::make_unique<ExceptionWorkflow>(store_.get(), hub_.get(), audit_.get(), &clock_,
                                                    settings);
  }

  uint64_t Apply(const std::string& group) {
    auto r = hub_->Apply(group, "name: base\n", group + ".yaml", "mamori://admin/a");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->version : 0;
  }

  // The exceptions agents of `group` get: from the stored, signed document.
  std::vector<DeviceException> ExceptionsOf(const std::string& group) {
    auto r = hub_->Resolve(group);
    if (!r) return {};
    EXPECT_TRUE(Key().public_key().Verify(r->stored).ok());
    auto parsed = ParsePolicy(r->stored.policy_yaml, "stored");
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? parsed->exceptions : std::vector<DeviceException>{};
  }

  v1::RequestExceptionRequest Req() {
    v1::RequestExceptionRequest req;
    req.set_terminal_id("t-0042");
    req.set_vid_pid("0781:5581");
    req.set_serial("4C530001231120115142");
    SetMs(kNow + 600'000, req.mutable_from());
    SetMs(kNow + 600'000 + 4 * kHour, req.mutable_until());
    req.set_reason("監査資料の受け渡し");
    req.set_requested_for("山田太郎");
    return req;
  }

  std::string RequestError(const v1::RequestExceptionRequest& req) {
    v1::ExceptionChangeResponse resp;
    Status s = workflow_->Request("web:olivia", req, &resp);
    return s.ok() ? "<accepted>" : s.error().message;
  }

  uint64_t Request(const std::string& actor = "web:olivia") {
    v1::ExceptionChangeResponse resp;
    Status s = workflow_->Request(actor, Req(), &resp);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return resp.exception().id();
  }

  v1::DecideExceptionRequest Decision(uint64_t id, std::string note = "") {
    v1::DecideExceptionRequest d;
    d.set_id(id);
    d.set_note(std::move(note));
    return d;
  }

  std::vector<AuditRecord> Audit(const std::string& action) {
    AuditQuery q;
    q.action = action;
    auto r = store_->QueryAudit(q);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::vector<AuditRecord>{};
  }

  testing::TempDir dir_;
  SettableClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PolicyHub> hub_;
  std::unique_ptr<StoreAuditTrail> audit_;
  std::unique_ptr<ExceptionWorkflow> workflow_;
};

TEST_F(ExceptionWorkflowTest, RequestIsStoredWaitingAndAudited) {
  Apply("osaka");
  const uint64_t before = hub_->Resolve("osaka")->stored.version;
  v1::ExceptionChangeResponse resp;
  ASSERT_TRUE(workflow_->Request("web:olivia", Req(), &resp).ok());
  const v1::DeviceExceptionView& v = resp.exception();
  EXPECT_GT(v.id(), 0u);
  EXPECT_EQ(v.state(), "requested");
  EXPECT_EQ(v.terminal_id(), "t-0042");
  EXPECT_EQ(v.group(), "osaka/suita");  // the terminal's group
  EXPECT_EQ(v.vid_pid(), "0781:5581");
  EXPECT_EQ(v.requested_by(), "web:olivia");
  // Nothing reaches agents before approval.
  EXPECT_EQ(hub_->Resolve("osaka")->stored.version, before);
  EXPECT_TRUE(ExceptionsOf("osaka").empty());
  const auto audit = Audit("exception.request");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].target, "EX-" + std::to_string(v.id()));
  EXPECT_EQ(audit[0].outcome, "ok");
  EXPECT_THAT(audit[0].detail, HasSubstr("0781:5581 serial '4C530001231120115142' on terminal "
                                         "t-0042"));
}

TEST_F(ExceptionWorkflowTest, BadRequestsAreRefusedNamingTheField) {
  auto req = Req();
  req.set_terminal_id("t-nobody");
  EXPECT_THAT(RequestError(req), HasSubstr("no terminal 't-nobody' has reported"));
  req = Req();
  req.set_serial("");
  EXPECT_THAT(RequestError(req), HasSubstr("serial: required"));
  req = Req();
  req.set_vid_pid("0781");
  EXPECT_THAT(RequestError(req), HasSubstr("vid_pid: expected 'vvvv:pppp'"));
  req = Req();
  SetMs(kNow - 1000, req.mutable_until());
  SetMs(kNow - 5000, req.mutable_from());
  EXPECT_THAT(RequestError(req), HasSubstr("until: must be in the future"));
  req = Req();
  SetMs(ToMs(req.from()) - 1000, req.mutable_until());
  EXPECT_THAT(RequestError(req), HasSubstr("until: must be after from"));
  req = Req();
  SetMs(kNow + 8 * 24 * kHour, req.mutable_until());
  EXPECT_THAT(RequestError(req), HasSubstr("longer than the 168 hours"));
  req = Req();
  req.set_reason("");
  EXPECT_THAT(RequestError(req), HasSubstr("reason: required"));
  req = Req();
  req.set_requested_for("");
  EXPECT_THAT(RequestError(req), HasSubstr("requested_for: required"));
  req = Req();
  req.set_group("osaka");
  EXPECT_THAT(RequestError(req), HasSubstr("either terminal_id or group"));
  req = Req();
  req.clear_terminal_id();
  req.set_group("Osaka!");
  EXPECT_THAT(RequestError(req), HasSubstr("group: not a valid group name"));
  req = Req();
  req.set_source_event("t-0042#x");
  EXPECT_THAT(RequestError(req), HasSubstr("source_event: expected '<terminal>#<seq>'"));
  EXPECT_EQ(Audit("exception.request").size(), 11u);
  for (const AuditRecord& a : Audit("exception.request")) EXPECT_EQ(a.outcome, "failed");
}

TEST_F(ExceptionWorkflowTest, DeviceCanBePickedFromABlockEvent) {
  Event e;
  e.seq = 17;
  e.time_ms = kNow - 60'000;
  e.kind = EventKind::kDeviceBlocked;
  Device d;
  d.device_id = "1-2";
  d.identity.vendor_id = 0x0951;
  d.identity.product_id = 0x1666;
  d.identity.serial = "KINGSTON-1";
  e.device = d;
  ASSERT_TRUE(store_->AppendEvents("t-0042", {e}, kNow).ok());
  auto req = Req();
  req.clear_terminal_id();
  req.clear_vid_pid();
  req.clear_serial();
  req.set_source_event("t-0042#17");
  v1::ExceptionChangeResponse resp;
  Status s = workflow_->Request("web:olivia", req, &resp);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(resp.exception().terminal_id(), "t-0042");
  EXPECT_EQ(resp.exception().vid_pid(), "0951:1666");
  EXPECT_EQ(resp.exception().serial(), "KINGSTON-1");
  EXPECT_EQ(resp.exception().source_event(), "t-0042#17");
  req.set_source_event("t-0042#18");
  EXPECT_THAT(RequestError(req), HasSubstr("no event t-0042#18"));
}

TEST_F(ExceptionWorkflowTest, ApprovalPutsItIntoTheSignedPoliciesThatReachTheTerminal) {
  Apply("osaka");
  Apply("osaka/suita");
  Apply("kyoto");
  const uint64_t id = Request();
  v1::ExceptionChangeResponse resp;
  Status s = workflow_->Approve("web:adam", Decision(id, "課長承認済み"), &resp);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(resp.exception().state(), "approved");  // its window starts in 10 minutes
  EXPECT_EQ(resp.exception().decided_by(), "web:adam");
  EXPECT_EQ(resp.policies_size(), 2);  // osaka and osaka/suita, not kyoto
  const auto in_suita = ExceptionsOf("osaka/suita");
  ASSERT_EQ(in_suita.size(), 1u);
  EXPECT_EQ(in_suita[0].id, "EX-" + std::to_string(id));
  EXPECT_EQ(in_suita[0].terminal_id, "t-0042");
  EXPECT_EQ(in_suita[0].serial, "4C530001231120115142");
  EXPECT_EQ(in_suita[0].not_before_ms, kNow + 600'000);
  EXPECT_EQ(ExceptionsOf("osaka").size(), 1u);
  EXPECT_TRUE(ExceptionsOf("kyoto").empty());
  auto history = store_->RecentPolicyVersions("osaka/suita", 1);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->at(0).applied_by, "exception.approve by web:adam");

  // The same request again: not waiting any more.
  s = workflow_->Approve("web:adam", Decision(id), &resp);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(s.error().message, HasSubstr("is approved"));

  // Active inside the window; listed for the terminal; ended after it.
  clock_.now_ms = kNow + 700'000;
  v1::ListExceptionsRequest list;
  list.set_terminal_id("t-0042");
  v1::ListExceptionsResponse listed;
  ASSERT_TRUE(workflow_->List(list, &listed).ok());
  ASSERT_EQ(listed.exceptions_size(), 1);
  EXPECT_EQ(listed.exceptions(0).state(), "active");
  list.set_terminal_id("t-other");
  listed.Clear();
  ASSERT_TRUE(workflow_->List(list, &listed).ok());
  EXPECT_EQ(listed.exceptions_size(), 0);

  // Ended: the next version of the policy no longer carries it.
  clock_.now_ms = kNow + 600'000 + 4 * kHour;
  list.set_terminal_id("t-0042");
  listed.Clear();
  ASSERT_TRUE(workflow_->List(list, &listed).ok());
  EXPECT_EQ(listed.exceptions(0).state(), "ended");
  Apply("osaka/suita");
  EXPECT_TRUE(ExceptionsOf("osaka/suita").empty());

  const auto audit = Audit("exception.approve");
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1].outcome, "ok");
  EXPECT_THAT(audit[1].detail, HasSubstr("note: 課長承認済み"));
  EXPECT_EQ(audit[0].outcome, "failed");
}

TEST_F(ExceptionWorkflowTest, TwoPersonRuleNeedsAnotherApprover) {
  Apply("osaka");
  MakeWorkflow(ExceptionSettings{.two_person_rule = true});
  const uint64_t id = Request("web:adam");
  v1::ExceptionChangeResponse resp;
  Status s = workflow_->Approve("web:adam", Decision(id), &resp);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(s.error().message, HasSubstr("requested by web:adam; under the two-person rule"));
  EXPECT_EQ(Audit("exception.approve").at(0).outcome, "denied");
  EXPECT_TRUE(ExceptionsOf("osaka").empty());
  ASSERT_TRUE(workflow_->Approve("web:eve", Decision(id), &resp).ok());
  EXPECT_EQ(ExceptionsOf("osaka").size(), 1u);
}

TEST_F(ExceptionWorkflowTest, RefuseAndCancel) {
  Apply("osaka");
  const uint64_t refused = Request();
  v1::ExceptionChangeResponse resp;
  Status s = workflow_->Refuse("web:adam", Decision(refused), &resp);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("note: required"));
  ASSERT_TRUE(workflow_->Refuse("web:adam", Decision(refused, "不要"), &resp).ok());
  EXPECT_EQ(resp.exception().state(), "refused");
  EXPECT_EQ(resp.policies_size(), 0);
  EXPECT_FALSE(workflow_->Approve("web:adam", Decision(refused), &resp).ok());

  // Someone else's request: only its requester or an admin cancels it.
  const uint64_t id = Request("web:olivia");
  s = workflow_->Cancel("web:otto", /*may_cancel_others=*/false, Decision(id, "x"), &resp);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);
  ASSERT_TRUE(workflow_->Approve("web:adam", Decision(id), &resp).ok());
  EXPECT_EQ(ExceptionsOf("osaka").size(), 1u);
  // Cancelling an approved exception takes it out of the policies.
  resp.Clear();
  ASSERT_TRUE(workflow_->Cancel("web:olivia", false, Decision(id, "作業完了"), &resp).ok());
  EXPECT_EQ(resp.exception().state(), "cancelled");
  EXPECT_EQ(resp.policies_size(), 1);
  EXPECT_TRUE(ExceptionsOf("osaka").empty());
  EXPECT_EQ(Audit("exception.cancel").size(), 2u);
  EXPECT_EQ(Audit("exception.refuse").size(), 2u);

  v1::ListExceptionsRequest list;
  list.add_states("refused");
  v1::ListExceptionsResponse listed;
  ASSERT_TRUE(workflow_->List(list, &listed).ok());
  ASSERT_EQ(listed.exceptions_size(), 1);
  EXPECT_EQ(listed.exceptions(0).id(), refused);
}

TEST_F(ExceptionWorkflowTest, ApprovalWithoutAPolicyWarns) {
  const uint64_t id = Request();
  v1::ExceptionChangeResponse resp;
  ASSERT_TRUE(workflow_->Approve("web:adam", Decision(id), &resp).ok());
  ASSERT_EQ(resp.warnings_size(), 1);
  EXPECT_THAT(resp.warnings(0), HasSubstr("no group has a policy yet"));
  // A policy applied later carries it.
  Apply("osaka/suita");
  EXPECT_EQ(ExceptionsOf("osaka/suita").size(), 1u);
}

TEST_F(ExceptionWorkflowTest, StoreKeepsEveryFieldAndDecisionsAreCompareAndSet) {
  ExceptionRequest r = Approved(0, "t-0042", "osaka/suita");
  r.reason = "理由";
  r.requested_for = "山田";
  r.source_event = "t-0042#3";
  r.requested_by = "web:olivia";
  r.requested_at_ms = kNow;
  auto id = store_->AddExceptionRequest(r);
  ASSERT_TRUE(id.ok());
  auto got = store_->GetExceptionRequest(*id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->state, ExceptionRequestState::kRequested);  // stored as requested
  EXPECT_EQ((*got)->serial, r.serial);
  EXPECT_EQ((*got)->source_event, "t-0042#3");
  EXPECT_EQ((*got)->until_ms, r.until_ms);
  EXPECT_TRUE(store_->ApprovedExceptions(kNow)->empty());
  ASSERT_TRUE(store_
                  ->DecideExceptionRequest(*id, {ExceptionRequestState::kRequested},
                                           ExceptionRequestState::kApproved, "web:adam", kNow, "")
                  .ok());
  Status again =
      store_->DecideExceptionRequest(*id, {ExceptionRequestState::kRequested},
                                     ExceptionRequestState::kRefused, "web:x", kNow, "n");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->ApprovedExceptions(kNow)->size(), 1u);
  EXPECT_TRUE(store_->ApprovedExceptions(r.until_ms)->empty());  // ended
  EXPECT_EQ(store_
                ->DecideExceptionRequest(999, {ExceptionRequestState::kRequested},
                                         ExceptionRequestState::kApproved, "a", kNow, "")
                .error()
                .code,
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace mamori
