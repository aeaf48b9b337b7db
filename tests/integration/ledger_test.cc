// The media ledger end to end: a real collector with its dashboard, a real
// agent with a simulated stick, the JSON API, mamorictl and the audit log.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <chrono>

#include "tests/integration/web_client.h"

namespace mamori::testing {
namespace {

namespace http = boost::beast::http;
using std::chrono::seconds;

constexpr char kStick[] = "LEDGER-STICK-0001";

constexpr char kBasePolicy[] =
    "name: osaka-standard\n"
    "defaults:\n"
    "  storage: block\n"
    "rules:\n"
    "  - name: registered-sticks\n"
    "    match:\n"
    "      registered_media: true\n"
    "    action: allow\n";

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    web_.emplace(pki_, dir_);
    ASSERT_TRUE(web_->Start()) << web_->collector().Log();
    admin_ = web_->collector().Admin(pki_.Admin());
  }

  std::optional<v1::TerminalDetail> Terminal(const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetTerminalRequest req;
    req.set_terminal_id(id);
    v1::TerminalDetail out;
    if (!admin_->GetTerminal(WithDeadline(&ctx), req, &out).ok()) return std::nullopt;
    return out;
  }

  // The stick's decision on the terminal once the agent runs `version` (or
  // any version when 0), as the agent reported it.
  std::optional<v1::Decision> StickDecision(const std::string& terminal, uint64_t version) {
    auto t = Terminal(terminal);
    if (!t || (version != 0 && t->summary().applied_policy_version() != version)) {
      return std::nullopt;
    }
    for (const auto& d : t->devices()) {
      if (d.serial() == kStick) return d.decision();
    }
    return std::nullopt;
  }

  v1::Action WaitForStick(const std::string& terminal, uint64_t version, v1::Action want,
                          AgentProcess& agent) {
    v1::Action seen = v1::ACTION_UNSPECIFIED;
    EXPECT_TRUE(WaitUntil(
        [&] {
          auto d = StickDecision(terminal, version);
          if (d) seen = d->action();
          return d && d->action() == want;
        },
        seconds(20)))
        << "stick is " << v1::Action_Name(seen) << ", wanted " << v1::Action_Name(want)
        << " under version " << version << "\n"
        << agent.Log();
    return seen;
  }

  template <typename Message>
  Message Parse(const WebReply& r) {
    Message m;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &m).ok()) << r.body;
    return m;
  }

  TempDir dir_;
  TestPki pki_;
  std::optional<WebCollector> web_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(LedgerTest, AddingAMediumThroughTheDashboardAllowsTheStickOnTheAgent) {
  const std::string policy_file = dir_.Write("osaka.yaml", kBasePolicy);
  CommandResult applied =
      web_->collector().Ctl({"policy", "apply", policy_file, "--group", "osaka"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  AgentProcess agent(pki_, dir_, web_->collector(), "t-ledger-1", "osaka/suita");
  agent.Plug("stick", StickYaml(kStick));
  agent.Start();
  WaitForStick("t-ledger-1", 0, v1::ACTION_BLOCK, agent);

  const WebSession viewer = web_->Login("victor", "viewer");
  const WebSession operator_ = web_->Login("olivia", "operator");
  const WebSession admin = web_->Login("alice", "admin");
  const WebClient& web = web_->web();
  const std::string add_body = std::string("{\"medium\":{\"serial\":\"") + kStick +
                               "\",\"vidPid\":\"0781:5581\",\"owner\":\"山田太郎\","
                               "\"department\":\"保険課\",\"group\":\"osaka\","
                               "\"expires\":\"2099-12-31\",\"note\":\"貸出用\"}}";

  // Roles and CSRF.
  EXPECT_EQ(web.Send(http::verb::post, "/api/media", viewer, add_body).status, 403);
  EXPECT_EQ(web.Send(http::verb::post, "/api/media", operator_, add_body, false).status, 403);
  EXPECT_EQ(web.Send(http::verb::get, "/api/audit", viewer).status, 403);
  EXPECT_EQ(web.Send(http::verb::get, "/api/audit", operator_).status, 403);
  EXPECT_EQ(web.Send(http::verb::get, "/api/media", {}).status, 401);
  EXPECT_EQ(
      web.Send(http::verb::post, "/api/media", operator_, "{\"medium\":{\"bogus\":1}}").status,
      400);

  // The operator registers the stick for osaka; the terminal in
  // osaka/suita inherits osaka's policy and gets a new signed version.
  WebReply added = web.Send(http::verb::post, "/api/media", operator_, add_body);
  ASSERT_EQ(added.status, 200) << added.body;
  const auto change = Parse<v1::LedgerChangeResponse>(added);
  ASSERT_EQ(change.policies_size(), 1) << added.body;
  EXPECT_EQ(change.policies(0).group(), "osaka");
  const uint64_t allowed_version = change.policies(0).version();
  EXPECT_EQ(change.medium().added_by(), "web:olivia");
  EXPECT_EQ(WaitForStick("t-ledger-1", allowed_version, v1::ACTION_ALLOW, agent), v1::ACTION_ALLOW);
  EXPECT_EQ(StickDecision("t-ledger-1", 0)->matched_rule(), "registered-sticks");

  // A viewer sees it listed.
  WebReply listed = web.Send(http::verb::get, "/api/media", viewer);
  ASSERT_EQ(listed.status, 200);
  auto media = Parse<v1::ListMediaResponse>(listed);
  ASSERT_EQ(media.media_size(), 1);
  EXPECT_EQ(media.media(0).serial(), kStick);
  EXPECT_EQ(media.media(0).expires(), "2099-12-31");
  const uint64_t stick_id = media.media(0).id();

  // A CSV with a bad line stores nothing and names the line.
  const std::string bad_csv =
      "serial,vendor_id,product_id,owner,department,group,expires,note\\n"
      "CSV-1,0781,5581,佐藤花子,情報政策課,osaka,,\\n"
      "CSV-2,0781,55G1,佐藤花子,情報政策課,osaka,,\\n";
  WebReply bad =
      web.Send(http::verb::post, "/api/media/import", operator_, "{\"csv\":\"" + bad_csv + "\"}");
  ASSERT_EQ(bad.status, 200) << bad.body;
  auto bad_result = Parse<v1::ImportMediaResponse>(bad);
  EXPECT_EQ(bad_result.imported(), 0u);
  ASSERT_EQ(bad_result.errors_size(), 1) << bad.body;
  EXPECT_EQ(bad_result.errors(0).line(), 3u);
  EXPECT_EQ(
      Parse<v1::ListMediaResponse>(web.Send(http::verb::get, "/api/media", viewer)).media_size(),
      1);

  // A good one, with a cell a spreadsheet would run as a formula.
  const std::string good_csv =
      "\\ufeffserial,vendor_id,product_id,owner,department,group,expires,note\\r\\n"
      "CSV-1,0781,5581,\\\"佐藤, 花子\\\",情報政策課,osaka,2027-03-31,\\r\\n"
      "CSV-2,0781,5581,=HYPERLINK(1),情報政策課,osaka/suita,,\\r\\n";
  WebReply good =
      web.Send(http::verb::post, "/api/media/import", operator_, "{\"csv\":\"" + good_csv + "\"}");
  ASSERT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(Parse<v1::ImportMediaResponse>(good).imported(), 2u) << good.body;

  WebReply exported = web.Send(http::verb::get, "/api/media/export", viewer);
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.Header("Content-Type"), "text/csv; charset=utf-8");
  EXPECT_NE(exported.Header("Content-Disposition").find("attachment"), std::string::npos);
  EXPECT_TRUE(exported.body.starts_with(
      "\xEF\xBB\xBFserial,vendor_id,product_id,owner,department,group,expires,note\r\n"))
      << exported.body;
  EXPECT_NE(exported.body.find(std::string(kStick) +
                               ",0781,5581,山田太郎,保険課,osaka,2099-12-31,貸出用\r\n"),
            std::string::npos)
      << exported.body;
  EXPECT_NE(exported.body.find("CSV-1,0781,5581,\"佐藤, 花子\",情報政策課,osaka,2027-03-31,\r\n"),
            std::string::npos)
      << exported.body;
  EXPECT_NE(exported.body.find("CSV-2,0781,5581,'=HYPERLINK(1),情報政策課,osaka/suita,,\r\n"),
            std::string::npos)
      << exported.body;

  // Retiring the stick blocks it again and lists it as unregistered.
  EXPECT_EQ(web.Send(http::verb::post, "/api/media/" + std::to_string(stick_id) + "/retire", viewer,
                     "{\"reason\":\"紛失\"}")
                .status,
            403);
  WebReply retired =
      web.Send(http::verb::post, "/api/media/" + std::to_string(stick_id) + "/retire", operator_,
               "{\"reason\":\"紛失\"}");
  ASSERT_EQ(retired.status, 200) << retired.body;
  const auto retire_change = Parse<v1::LedgerChangeResponse>(retired);
  ASSERT_EQ(retire_change.policies_size(), 1);
  WaitForStick("t-ledger-1", retire_change.policies(0).version(), v1::ACTION_BLOCK, agent);
  WebReply unregistered = web.Send(http::verb::get, "/api/media/unregistered", viewer);
  ASSERT_EQ(unregistered.status, 200);
  auto unreg = Parse<v1::UnregisteredDevicesResponse>(unregistered);
  bool found = false;
  for (const auto& d : unreg.devices()) {
    found = found || (d.device().serial() == kStick && d.terminal_id() == "t-ledger-1" &&
                      d.group() == "osaka/suita" && d.present());
  }
  EXPECT_TRUE(found) << unregistered.body;

  // A failed login, then the admin reads the audit log.
  EXPECT_EQ(web.Send(http::verb::post, "/api/login", {},
                     R"({"name":"mallory\u0007<x>","password":"guess","code":"123456"})")
                .status,
            401);
  WebReply audit = web.Send(http::verb::get, "/api/audit?limit=100", admin);
  ASSERT_EQ(audit.status, 200) << audit.body;
  const auto log = Parse<v1::QueryAuditResponse>(audit);
  auto count = [&](const std::string& actor, const std::string& action,
                   const std::string& outcome) {
    int n = 0;
    for (const auto& e : log.entries()) {
      n += (actor.empty() || e.actor() == actor) && e.action() == action && e.outcome() == outcome;
    }
    return n;
  };
  EXPECT_EQ(count("cert:mamori://admin/admin", "policy.apply", "ok"), 1) << audit.body;
  EXPECT_EQ(count("web:olivia", "ledger.add", "ok"), 1);
  EXPECT_EQ(count("web:victor", "ledger.add", "denied"), 1);
  EXPECT_EQ(count("web:olivia", "ledger.import", "failed"), 1);
  EXPECT_EQ(count("web:olivia", "ledger.import", "ok"), 1);
  EXPECT_EQ(count("web:olivia", "ledger.retire", "ok"), 1);
  EXPECT_EQ(count("web:victor", "ledger.retire", "denied"), 1);
  EXPECT_EQ(count("web:alice", "login.ok", "ok"), 1);
  EXPECT_EQ(count("", "login.fail", "denied"), 1);
  for (const auto& e : log.entries()) {
    if (e.action() == "login.fail") {
      // Kept, but printable: the bell is escaped.
      EXPECT_EQ(e.target().find('\x07'), std::string::npos);
      EXPECT_NE(e.target().find("mallory"), std::string::npos);
    }
  }
  EXPECT_EQ(Parse<v1::QueryAuditResponse>(
                web.Send(http::verb::get, "/api/audit?action=ledger.add", admin))
                .entries_size(),
            2);

  // mamorictl sees the same ledger and log.
  CommandResult list = web_->collector().Ctl({"media", "list", "--retired"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(kStick), std::string::npos);
  EXPECT_NE(list.out.find("retired"), std::string::npos) << list.out;
  CommandResult audit_cli = web_->collector().Ctl({"audit", "--action", "ledger.retire"});
  ASSERT_EQ(audit_cli.exit_code, 0) << audit_cli.err;
  EXPECT_NE(audit_cli.out.find("web:olivia"), std::string::npos) << audit_cli.out;
  EXPECT_NE(audit_cli.out.find("紛失"), std::string::npos) << audit_cli.out;
}

TEST_F(LedgerTest, MamorictlManagesTheLedger) {
  const std::string policy_file = dir_.Write("kyoto.yaml", kBasePolicy);
  ASSERT_EQ(web_->collector().Ctl({"policy", "apply", policy_file, "--group", "kyoto"}).exit_code,
            0);
  CommandResult add = web_->collector().Ctl({"media", "add", "--serial", "CTL-1", "--vid-pid",
                                             "0781:5581", "--group", "kyoto", "--owner", "鈴木"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_NE(add.out.find("Added ledger entry #1"), std::string::npos) << add.out;
  EXPECT_NE(add.out.find("kyoto v2"), std::string::npos) << add.out;
  CommandResult warn = web_->collector().Ctl(
      {"media", "add", "--serial", "CTL-2", "--vid-pid", "0781:5581", "--group", "nara"});
  ASSERT_EQ(warn.exit_code, 0) << warn.err;
  EXPECT_NE(warn.out.find("warning: no policy governs group nara"), std::string::npos) << warn.out;

  const std::string csv =
      dir_.Write("media.csv",
                 "serial,vendor_id,product_id,owner,department,group,expires,note\n"
                 "CTL-3,0781,5581,a,b,kyoto,2027-02-31,\n");
  CommandResult bad = web_->collector().Ctl({"media", "import", csv});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(csv + ":2: expires"), std::string::npos) << bad.err;

  const std::string out = dir_.File("export.csv");
  ASSERT_EQ(web_->collector().Ctl({"media", "export", out}).exit_code, 0);
  std::ifstream in(out, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(text.starts_with("\xEF\xBB\xBFserial,")) << text;
  EXPECT_NE(text.find("CTL-1,0781,5581,鈴木,,kyoto,,\r\n"), std::string::npos) << text;

  CommandResult retire = web_->collector().Ctl({"media", "retire", "1"});
  EXPECT_EQ(retire.exit_code, 2) << retire.err;  // --reason is required
  retire = web_->collector().Ctl({"media", "retire", "1", "--reason", "broken"});
  ASSERT_EQ(retire.exit_code, 0) << retire.err;
  EXPECT_NE(retire.out.find("kyoto v3"), std::string::npos) << retire.out;

  CommandResult audit = web_->collector().Ctl({"audit", "--action", "ledger.add"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_NE(audit.out.find("cert:mamori://admin/admin"), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("JST"), std::string::npos) << audit.out;
  CommandResult help = web_->collector().Ctl({"media", "import", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("serial,vendor_id,product_id"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace mamori::testing
