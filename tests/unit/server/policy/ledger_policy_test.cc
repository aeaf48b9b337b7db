// How the media ledger reaches policies: the merge rules, and the ledger
// service with a real store and policy hub (new signed versions, audit).

#include "server/policy/ledger_policy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "common/policy/policy_parser.h"
#include "common/policy/policy_signing.h"
#include "common/policy/rule_engine.h"
#include "server/audit/audit_trail.h"
#include "server/ledger/media_ledger.h"
#include "server/policy/policy_hub.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

constexpr int64_t kEndOfMarch2027Jst = 1'806'505'199'999;

class SettableClock final : public Clock {
 public:
  int64_t NowMs() const override { return now_ms.load(); }
  std::atomic<int64_t> now_ms{1'700'000'000'000};
};

LedgerEntry Entry(int64_t id, std::string serial, std::string group, bool active = true) {
  LedgerEntry e;
  e.id = id;
  e.serial = std::move(serial);
  e.vendor_id = 0x0781;
  e.product_id = 0x5581;
  e.owner = "山田太郎";
  e.group = std::move(group);
  if (!active) e.retired_at_ms = 1;
  return e;
}

std::vector<std::string> Serials(const std::vector<RegisteredMedium>& media) {
  std::vector<std::string> out;
  for (const auto& m : media) out.push_back(m.serial);
  return out;
}

constexpr char kAdminDoc[] =
    "# 保険課の標準ポリシー\n"
    "name: standard\n"
    "defaults:\n"
    "  storage: block   # nothing leaves the terminal\n"
    "registered_media:\n"
    "  - serial: \"OWN1\"\n"
    "    vid_pid: \"0951:1666\"\n"
    "  - serial: \"KNOWN\"\n"
    "    vid_pid: \"0781:5581\"\n"
    "\n"
    "# rules come last\n"
    "rules:\n"
    "  - name: registered-sticks\n"
    "    match:\n"
    "      registered_media: true\n"
    "    action: allow\n";

TEST(LedgerPolicyTest, ScopeIsTheGroupAndItsAncestorsOnly) {
  const std::vector<LedgerEntry> ledger = {
      Entry(1, "ALL", ""),
      Entry(2, "OSAKA", "osaka"),
      Entry(3, "SUITA", "osaka/suita"),
      Entry(4, "HOKEN", "osaka/suita/hoken"),
      Entry(5, "KYOTO", "kyoto"),
      Entry(6, "GONE", "osaka", /*active=*/false),
      Entry(7, "OSAKAX", "osakax"),
  };
  EXPECT_EQ(Serials(MergedMedia({}, "osaka/suita", ledger)),
            (std::vector<std::string>{"ALL", "OSAKA", "SUITA"}));
  EXPECT_EQ(Serials(MergedMedia({}, "osaka", ledger)), (std::vector<std::string>{"ALL", "OSAKA"}));
  EXPECT_EQ(Serials(MergedMedia({}, "kyoto/x", ledger)),
            (std::vector<std::string>{"ALL", "KYOTO"}));
}

TEST(LedgerPolicyTest, TheLedgerDecidesForMediaItKnows) {
  RegisteredMedium own{"OWN1", 0x0951, 0x1666, "", "", 0};
  RegisteredMedium known{"KNOWN", 0x0781, 0x5581, "", "", 0};
  // KNOWN was retired in the ledger: the document's entry for it goes too.
  const std::vector<LedgerEntry> retired = {Entry(1, "KNOWN", "kyoto", /*active=*/false)};
  EXPECT_EQ(Serials(MergedMedia({own, known}, "osaka", retired)),
            (std::vector<std::string>{"OWN1"}));
  // Registered twice in scope: one entry, the later expiry.
  LedgerEntry a = Entry(1, "TWICE", "");
  a.expires_ms = 100;
  LedgerEntry b = Entry(2, "TWICE", "osaka");
  b.expires_ms = 0;  // never
  auto media = MergedMedia({}, "osaka", {a, b});
  ASSERT_EQ(media.size(), 1u);
  EXPECT_EQ(media[0].expires_ms, 0);
}

TEST(LedgerPolicyTest, MergedDocumentKeepsTheRestAsWritten) {
  LedgerEntry e = Entry(1, "LEDGER1", "osaka");
  e.department = "保険課";
  e.expires_ms = kEndOfMarch2027Jst;
  auto merged =
      MergeLedgerIntoPolicy(kAdminDoc, "osaka", {e, Entry(2, "KNOWN", "kyoto")}, "a.yaml");
  ASSERT_TRUE(merged.ok()) << merged.error().message;
  // Comments and the other sections stay.
  EXPECT_NE(merged->find("# 保険課の標準ポリシー\nname: standard\n"), std::string::npos) << *merged;
  EXPECT_NE(merged->find("storage: block   # nothing leaves the terminal"), std::string::npos);
  EXPECT_NE(merged->find("# rules come last\nrules:\n"), std::string::npos) << *merged;
  auto parsed = ParsePolicy(*merged, "merged");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message << "\n" << *merged;
  EXPECT_EQ(Serials(parsed->registered_media), (std::vector<std::string>{"OWN1", "LEDGER1"}));
  EXPECT_EQ(parsed->registered_media[1].owner, "山田太郎");
  EXPECT_EQ(parsed->registered_media[1].department, "保険課");
  EXPECT_EQ(parsed->registered_media[1].expires_ms, kEndOfMarch2027Jst);
  EXPECT_EQ(parsed->rules.size(), 1u);
  EXPECT_EQ(parsed->default_storage_action, Action::kBlock);

  // Nothing to merge: the document comes back byte for byte.
  const std::string plain =
      "name: p\nrules:\n  - name: r\n    match: {class: hid}\n    action: allow\n";
  EXPECT_EQ(MergeLedgerIntoPolicy(plain, "osaka", {Entry(1, "X", "kyoto")}, "p").value(), plain);
  // A document without the section gets it.
  auto added = MergeLedgerIntoPolicy(plain, "osaka", {Entry(1, "X", "osaka")}, "p");
  ASSERT_TRUE(added.ok());
  EXPECT_TRUE(added->starts_with(plain)) << *added;
  EXPECT_EQ(Serials(ParsePolicy(*added, "p")->registered_media), (std::vector<std::string>{"X"}));
  // Hostile values stay values.
  LedgerEntry hostile = Entry(1, "\"]} x: [", "osaka");
  hostile.owner = "a\nb: c";
  auto h = MergeLedgerIntoPolicy(plain, "osaka", {hostile}, "p");
  ASSERT_TRUE(h.ok()) << h.error().message;
  auto hp = ParsePolicy(*h, "p");
  ASSERT_TRUE(hp.ok()) << hp.error().message;
  EXPECT_EQ(hp->registered_media.at(0).serial, hostile.serial);
  EXPECT_EQ(hp->registered_media.at(0).owner, hostile.owner);
}

TEST(LedgerPolicyTest, FlowStyleDocumentsAreReEmitted) {
  auto merged = MergeLedgerIntoPolicy(
      "{name: flow, rules: [{name: r, match: {registered_media: true}, action: allow}]}", "osaka",
      {Entry(1, "F1", "osaka")}, "f");
  ASSERT_TRUE(merged.ok()) << merged.error().message;
  auto parsed = ParsePolicy(*merged, "f");
  ASSERT_TRUE(parsed.ok()) << *merged;
  EXPECT_EQ(parsed->name, "flow");
  EXPECT_EQ(Serials(parsed->registered_media), (std::vector<std::string>{"F1"}));
}

TEST(LedgerPolicyTest, ExpiredEntriesStopMatchingAtTheEndOfTheJstDay) {
  LedgerEntry e = Entry(1, "EXP1", "osaka");
  e.expires_ms = kEndOfMarch2027Jst;
  auto merged = MergeLedgerIntoPolicy(kAdminDoc, "osaka", {e}, "a.yaml");
  ASSERT_TRUE(merged.ok());
  auto policy = ParsePolicy(*merged, "a.yaml");
  ASSERT_TRUE(policy.ok());
  DeviceIdentity stick;
  stick.vendor_id = 0x0781;
  stick.product_id = 0x5581;
  stick.serial = "EXP1";
  stick.device_class = DeviceClass::kMassStorage;
  stick.interface_classes = {DeviceClass::kMassStorage};
  EXPECT_EQ(Evaluate(*policy, stick, kEndOfMarch2027Jst).action, Action::kAllow);
  EXPECT_EQ(Evaluate(*policy, stick, kEndOfMarch2027Jst + 1).action, Action::kBlock);
}

TEST(LedgerPolicyTest, WarningsSayWhenTheScopeHasNoPolicyOfItsOwn) {
  EXPECT_TRUE(LedgerScopeWarnings("osaka", {"osaka", "kyoto"}).empty());
  EXPECT_TRUE(LedgerScopeWarnings("", {"osaka"}).empty());
  auto inherited = LedgerScopeWarnings("osaka/suita", {"osaka"});
  ASSERT_EQ(inherited.size(), 1u);
  EXPECT_NE(inherited[0].find("policy of osaka"), std::string::npos) << inherited[0];
  auto none = LedgerScopeWarnings("nara", {"osaka"});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_NE(none[0].find("built-in default"), std::string::npos);
  EXPECT_EQ(LedgerScopeWarnings("osaka", {}).size(), 1u);
}

const PolicySigningKey& Key() {
  static const PolicySigningKey key = PolicySigningKey::Generate().value();
  return key;
}

class MediaLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("ledger.db"), SqliteOptions{});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    hub_ = std::make_unique<PolicyHub>(store_.get(), &clock_, Key());
    ASSERT_TRUE(hub_->Load().ok());
    audit_ = std::make_unique<StoreAuditTrail>(store_.get(), &clock_);
    ledger_ = std::make_unique<MediaLedger>(store_.get(), hub_.get(), audit_.get(), &clock_);
  }

  uint64_t Apply(const std::string& group, const std::string& yaml) {
    auto r = hub_->Apply(group, yaml, group + ".yaml", "mamori://admin/a");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->version : 0;
  }

  std::vector<std::string> MediaOf(const std::string& group) {
    auto r = hub_->Resolve(group);
    EXPECT_TRUE(r.has_value());
    if (!r) return {};
    // What agents get: the stored, signed document.
    EXPECT_TRUE(Key().public_key().Verify(r->stored).ok());
    auto parsed = ParsePolicy(r->stored.policy_yaml, "stored");
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? Serials(parsed->registered_media) : std::vector<std::string>{};
  }

  v1::LedgerChangeResponse Add(const std::string& serial, const std::string& group,
                               const std::string& expires = "") {
    v1::AddMediumRequest req;
    req.mutable_medium()->set_serial(serial);
    req.mutable_medium()->set_vid_pid("0781:5581");
    req.mutable_medium()->set_owner("山田太郎");
    req.mutable_medium()->set_group(group);
    req.mutable_medium()->set_expires(expires);
    v1::LedgerChangeResponse resp;
    Status s = ledger_->Add("web:alice", req, &resp);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return resp;
  }

  std::vector<AuditRecord> Audit(const std::string& action) {
    AuditQuery q;
    q.action = action;
    auto r = store_->QueryAudit(q);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::vector<AuditRecord>{};
  }

  static constexpr char kBase[] =
      "name: base\nrules:\n  - name: registered\n    match:\n      registered_media: true\n"
      "    action: allow\n";

  testing::TempDir dir_;
  SettableClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PolicyHub> hub_;
  std::unique_ptr<StoreAuditTrail> audit_;
  std::unique_ptr<MediaLedger> ledger_;
};

TEST_F(MediaLedgerTest, AddStoresSignedVersionsForPoliciesInScopeOnly) {
  const uint64_t osaka = Apply("osaka", kBase);
  const uint64_t suita = Apply("osaka/suita", kBase);
  const uint64_t kyoto = Apply("kyoto", kBase);
  std::vector<uint64_t> pushed;
  hub_->AddWatcher(
      "osaka/suita/hoken", "t1",
      [&](const ResolvedPolicy& r) { pushed.push_back(r.stored.version); }, [](const Error&) {});

  v1::LedgerChangeResponse resp = Add("SUITA1", "osaka/suita");
  ASSERT_EQ(resp.policies_size(), 1);
  EXPECT_EQ(resp.policies(0).group(), "osaka/suita");
  EXPECT_GT(resp.policies(0).version(), kyoto);
  EXPECT_TRUE(resp.warnings().empty());
  EXPECT_EQ(MediaOf("osaka/suita"), (std::vector<std::string>{"SUITA1"}));
  EXPECT_TRUE(MediaOf("osaka").empty());
  EXPECT_TRUE(MediaOf("kyoto").empty());
  EXPECT_EQ(hub_->Resolve("osaka")->stored.version, osaka);
  EXPECT_EQ(pushed, (std::vector<uint64_t>{resp.policies(0).version()}));
  EXPECT_NE(suita, resp.policies(0).version());

  // The history says why.
  auto history = store_->RecentPolicyVersions("osaka/suita", 1);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->at(0).applied_by, "ledger.add by web:alice");

  // Scoped to osaka: both osaka policies, one new version each, one push.
  resp = Add("OSAKA1", "osaka");
  EXPECT_EQ(resp.policies_size(), 2);
  EXPECT_EQ(MediaOf("osaka"), (std::vector<std::string>{"OSAKA1"}));
  EXPECT_EQ(MediaOf("osaka/suita"), (std::vector<std::string>{"SUITA1", "OSAKA1"}));
  EXPECT_EQ(pushed.size(), 2u);

  // A scope without a policy of its own: stored, nothing changes, a warning.
  resp = Add("TOYO1", "osaka/toyonaka");
  EXPECT_EQ(resp.policies_size(), 0);
  ASSERT_EQ(resp.warnings_size(), 1);
  EXPECT_NE(resp.warnings(0).find("policy of osaka"), std::string::npos);

  // Re-applying the admin's document keeps the ledger's media.
  Apply("osaka/suita", kBase);
  EXPECT_EQ(MediaOf("osaka/suita"), (std::vector<std::string>{"SUITA1", "OSAKA1"}));
  auto source = store_->PolicySource("osaka/suita", hub_->Resolve("osaka/suita")->stored.version);
  EXPECT_EQ(source.value(), kBase);

  const auto audit = Audit("ledger.add");
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[2].actor, "web:alice");
  EXPECT_EQ(audit[2].outcome, "ok");
  EXPECT_NE(audit[2].detail.find("serial=SUITA1"), std::string::npos) << audit[2].detail;
}

TEST_F(MediaLedgerTest, RetireRemovesTheMediumFromEveryPolicy) {
  Apply("osaka", kBase);
  const uint64_t id = Add("LOST1", "osaka").medium().id();
  Add("KEEP1", "osaka");
  EXPECT_EQ(MediaOf("osaka"), (std::vector<std::string>{"LOST1", "KEEP1"}));

  v1::RetireMediumRequest req;
  req.set_id(id);
  v1::LedgerChangeResponse resp;
  EXPECT_EQ(ledger_->Retire("web:bob", req, &resp).error().code, ErrorCode::kInvalidArgument);
  req.set_reason("紛失");
  ASSERT_TRUE(ledger_->Retire("web:bob", req, &resp).ok());
  EXPECT_EQ(resp.policies_size(), 1);
  EXPECT_EQ(resp.medium().retired_by(), "web:bob");
  EXPECT_EQ(resp.medium().retire_reason(), "紛失");
  EXPECT_EQ(MediaOf("osaka"), (std::vector<std::string>{"KEEP1"}));
  v1::LedgerChangeResponse again;
  EXPECT_EQ(ledger_->Retire("web:bob", req, &again).error().code, ErrorCode::kFailedPrecondition);

  const auto audit = Audit("ledger.retire");
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].outcome, "failed");  // the second retire
  EXPECT_EQ(audit[1].outcome, "ok");
  EXPECT_NE(audit[1].detail.find("紛失"), std::string::npos);
  EXPECT_EQ(audit[2].outcome, "failed");  // no reason
}

TEST_F(MediaLedgerTest, BadInputIsRefusedAndAuditedAsFailed) {
  v1::AddMediumRequest req;
  req.mutable_medium()->set_serial("S");
  req.mutable_medium()->set_vid_pid("0781");
  v1::LedgerChangeResponse resp;
  Status s = ledger_->Add("web:alice", req, &resp);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("vid_pid"), std::string::npos);
  req.mutable_medium()->set_vid_pid("0781:5581");
  req.mutable_medium()->set_expires("2027-02-30");
  EXPECT_NE(ledger_->Add("web:alice", req, &resp).error().message.find("expires"),
            std::string::npos);
  EXPECT_EQ(Audit("ledger.add").size(), 2u);
  EXPECT_TRUE(store_->ListLedger(true)->empty());
}

TEST_F(MediaLedgerTest, ImportIsAllOrNothingWithEveryBadLine) {
  Apply("osaka", kBase);
  v1::ImportMediaRequest req;
  req.set_csv(
      "serial,vendor_id,product_id,owner,department,group,expires,note\n"
      "IMP1,0781,5581,山田,保険課,osaka,2027-03-31,\n"
      "IMP2,0781,xxxx,山田,保険課,osaka,,\n"
      "IMP3,0781,5581,山田,保険課,osaka,,\n"
      "IMP1,0781,5581,山田,保険課,osaka,,\n");
  v1::ImportMediaResponse resp;
  ASSERT_TRUE(ledger_->Import("web:alice", req, &resp).ok());
  EXPECT_EQ(resp.imported(), 0u);
  ASSERT_EQ(resp.errors_size(), 2);
  EXPECT_EQ(resp.errors(0).line(), 3u);
  EXPECT_EQ(resp.errors(1).line(), 5u);
  EXPECT_NE(resp.errors(1).message().find("line 2"), std::string::npos);
  EXPECT_TRUE(store_->ListLedger(true)->empty());
  EXPECT_TRUE(MediaOf("osaka").empty());

  // Already in the ledger: reported by line, nothing stored either.
  Add("IMP3", "osaka");
  req.set_csv(
      "serial,vendor_id,product_id,owner,department,group,expires,note\r\n"
      "IMP1,0781,5581,山田,保険課,osaka,2027-03-31,\r\n"
      "IMP3,0781,5581,山田,保険課,osaka,,\r\n");
  resp.Clear();
  ASSERT_TRUE(ledger_->Import("web:alice", req, &resp).ok());
  ASSERT_EQ(resp.errors_size(), 1);
  EXPECT_EQ(resp.errors(0).line(), 3u);
  EXPECT_EQ(store_->ListLedger(true)->size(), 1u);

  req.set_csv(
      "serial,vendor_id,product_id,owner,department,group,expires,note\r\n"
      "IMP1,0781,5581,山田,保険課,osaka,2027-03-31,\r\n"
      "IMP2,0781,5582,山田,保険課,osaka,,\r\n");
  resp.Clear();
  ASSERT_TRUE(ledger_->Import("web:alice", req, &resp).ok());
  EXPECT_TRUE(resp.errors().empty());
  EXPECT_EQ(resp.imported(), 2u);
  EXPECT_EQ(resp.policies_size(), 1);  // one version for the whole import
  EXPECT_EQ(MediaOf("osaka"), (std::vector<std::string>{"IMP3", "IMP1", "IMP2"}));

  const auto audit = Audit("ledger.import");
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].outcome, "ok");
  EXPECT_EQ(audit[1].outcome, "failed");
  EXPECT_EQ(audit[2].outcome, "failed");
}

TEST_F(MediaLedgerTest, ExportAndUnregisteredDevices) {
  Add("=EVIL", "osaka", "2027-03-31");
  v1::ExportMediaResponse exp;
  ASSERT_TRUE(ledger_->Export({}, &exp).ok());
  EXPECT_TRUE(
      exp.csv().starts_with("\xEF\xBB\xBFserial,vendor_id,product_id,owner,department,"
                            "group,expires,note\r\n"));
  EXPECT_NE(exp.csv().find("'=EVIL,0781,5581,山田太郎,,osaka,2027-03-31,\r\n"), std::string::npos)
      << exp.csv();

  TerminalState t;
  t.terminal_id = "t1";
  t.group = "osaka/suita";
  t.hostname = "PC-1";
  t.last_report_ms = clock_.NowMs();
  Device registered;
  registered.device_id = "d1";
  registered.identity.vendor_id = 0x0781;
  registered.identity.product_id = 0x5581;
  registered.identity.serial = "=EVIL";
  registered.identity.device_class = DeviceClass::kMassStorage;
  Device stranger = registered;
  stranger.device_id = "d2";
  stranger.identity.serial = "STRANGER";
  Device keyboard = registered;
  keyboard.device_id = "d3";
  keyboard.identity.serial = "KB";
  keyboard.identity.device_class = DeviceClass::kHid;
  t.devices = {registered, stranger, keyboard};
  ASSERT_TRUE(store_->PutTerminalState(t).ok());
  Event ev;
  ev.seq = 1;
  ev.time_ms = clock_.NowMs() - 1000;
  ev.kind = EventKind::kDeviceBlocked;
  Device old = registered;
  old.identity.serial = "GONE";
  ev.device = old;
  ASSERT_TRUE(store_->AppendEvents("t1", {ev}, clock_.NowMs()).ok());

  v1::UnregisteredDevicesResponse resp;
  ASSERT_TRUE(ledger_->Unregistered({}, &resp).ok());
  ASSERT_EQ(resp.devices_size(), 2);
  EXPECT_EQ(resp.devices(0).device().serial(), "STRANGER");
  EXPECT_TRUE(resp.devices(0).present());
  EXPECT_EQ(resp.devices(0).hostname(), "PC-1");
  EXPECT_EQ(resp.devices(1).device().serial(), "GONE");
  EXPECT_FALSE(resp.devices(1).present());

  // Past its expiry day (JST) the registered stick counts as unregistered.
  clock_.now_ms = kEndOfMarch2027Jst + 1;
  resp.Clear();
  v1::UnregisteredDevicesRequest all_time;
  all_time.set_days(366);
  ASSERT_TRUE(ledger_->Unregistered(all_time, &resp).ok());
  bool evil = false;
  for (const auto& d : resp.devices()) evil = evil || d.device().serial() == "=EVIL";
  EXPECT_TRUE(evil);
}

}  // namespace
}  // namespace mamori
