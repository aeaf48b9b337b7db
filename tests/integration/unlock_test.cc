// Offline unlock codes end to end: mamorictl makes the unlock key and
// issues a code against a real collector; a real agent, cut off from the
// collector, validates codes typed into `mamori-agent unlock` over its Unix
// socket; the refusals reach the collector once it is back.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/base/clock.h"
#include "common/policy/unlock_code.h"
#include "proto/wire/convert.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

using std::chrono::seconds;

constexpr char kSerial[] = "UNLOCK-STICK-0001";

class UnlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CommandResult key =
        RunCommand({MAMORICTL_BIN, "pki", "unlock-key", "--dir", dir_.File("unlock")});
    ASSERT_EQ(key.exit_code, 0) << key.err;
    ASSERT_NE(key.out.find("unlock.key"), std::string::npos);
    socket_ = dir_.File("unlock.sock");
    collector_.emplace(pki_, dir_, "unlock:\n  key_file: " + dir_.File("unlock/unlock.key") + "\n");
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
    agent_.emplace(pki_, dir_, *collector_, "T-UNLOCK", "osaka",
                   "unlock:\n  public_key_file: " + dir_.File("unlock/unlock.pub") +
                       "\n  socket: " + socket_ + "\n");
  }

  CommandResult Unlock(const std::string& code) {
    return RunCommand({MAMORI_AGENT_BIN, "unlock", "--socket", socket_, code});
  }

  // Issues a code, waiting until the terminal has connected once (before
  // that the collector does not know its certificate).
  std::string Issue(const std::string& serial) {
    std::string code;
    CommandResult last;
    EXPECT_TRUE(WaitUntil(
        [&] {
          last = collector_->Ctl({"unlock", "issue", "--terminal", "T-UNLOCK", "--device",
                                  "0781:5581", "--serial", serial, "--hours", "3", "--reason",
                                  "承認: 情報システム課長", "--output", "json"});
          if (last.exit_code != 0) return false;
          const auto at = last.out.find("\"code\": \"");
          if (at == std::string::npos) return false;
          code = last.out.substr(at + 9, 20);
          return true;
        },
        seconds(20)))
        << last.out << last.err;
    return code;
  }

  TempDir dir_;
  TestPki pki_;
  std::string socket_;
  std::optional<CollectorProcess> collector_;
  std::optional<AgentProcess> agent_;
};

TEST_F(UnlockTest, ACodeIssuedByTheCollectorIsValidatedByTheAgentOffline) {
  agent_->Plug("stick", StickYaml(kSerial));
  agent_->Start();
  // The agent's notice names what the user reads out over the phone.
  ASSERT_TRUE(
      WaitUntil([&] { return agent_->Log().find(kSerial) != std::string::npos; }, seconds(20)))
      << agent_->Log();
  const std::string code = Issue(kSerial);
  ASSERT_EQ(code.size(), 20u);
  const std::string other_device = Issue("SOMEONE-ELSES-STICK");

  // The collector goes away: everything below happens offline.
  collector_->process().Signal(SIGTERM);
  ASSERT_TRUE(collector_->process().Wait(std::chrono::milliseconds(10000)).has_value());

  // One character misread on the phone.
  std::string typo = code;
  typo[3] = typo[3] == 'X' ? 'Y' : 'X';
  CommandResult r = Unlock(typo);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refused (typo): typo at character 4 (group 1, character 4)"),
            std::string::npos)
      << r.err;

  // A code for a device that is not plugged in names the ones that are.
  r = Unlock(other_device);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refused (other_device)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::string("serial '") + kSerial + "'"), std::string::npos) << r.err;

  // The right code verifies for the stick with this terminal's own key, typed
  // in lower case and in its three groups, and the stick is allowed.
  std::string lower;
  for (char c : code) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  r = RunCommand({MAMORI_AGENT_BIN, "unlock", "--config", agent_->config_path(), lower.substr(0, 6),
                  lower.substr(7, 6), lower.substr(14, 6)});
  EXPECT_EQ(r.exit_code, 0) << r.err << agent_->Log();
  EXPECT_NE(r.out.find("unlock code accepted"), std::string::npos) << r.out;
  EXPECT_TRUE(WaitUntil(
      [&] { return agent_->Log().find("allow by rule 'exception:unlock-") != std::string::npos; },
      seconds(20)))
      << agent_->Log();

  // The same code a second time is refused.
  r = Unlock(code);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refused (reused)"), std::string::npos) << r.err;

  // Back online: the refusals reach the collector with their reasons.
  ASSERT_TRUE(collector_->Start()) << collector_->Log();
  auto admin = collector_->Admin(pki_.Admin());
  std::string details;
  EXPECT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext ctx;
        v1::QueryEventsRequest req;
        req.set_terminal_id("T-UNLOCK");
        req.add_kinds(v1::EVENT_KIND_UNLOCK_CODE_REFUSED);
        v1::QueryEventsResponse resp;
        if (!admin->QueryEvents(WithDeadline(&ctx), req, &resp).ok()) return false;
        details.clear();
        for (const auto& e : resp.events()) details += e.detail() + "\n";
        return resp.events_size() >= 3;
      },
      seconds(30)))
      << details;
  EXPECT_NE(details.find("(typo)"), std::string::npos) << details;
  EXPECT_NE(details.find("(other_device)"), std::string::npos) << details;
  EXPECT_NE(details.find("(reused)"), std::string::npos) << details;
  EXPECT_NE(details.find("typed by uid "), std::string::npos) << details;

  // The issued codes, with the audit trail of who issued them.
  CommandResult list = collector_->Ctl({"unlock", "list", "--terminal", "T-UNLOCK"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(kSerial), std::string::npos) << list.out;
  // The use reported by the agent is reconciled with the issued code.
  EXPECT_TRUE(WaitUntil(
      [&] {
        list = collector_->Ctl({"unlock", "list", "--terminal", "T-UNLOCK"});
        return list.out.find("uid ") != std::string::npos;
      },
      seconds(30)))
      << list.out;
  CommandResult audit = collector_->Ctl({"audit", "--action", "unlock.issue"});
  EXPECT_NE(audit.out.find("terminal:T-UNLOCK"), std::string::npos) << audit.out;
  EXPECT_EQ(audit.out.find(code), std::string::npos) << "the audit log must not hold usable codes";
  // The use and the refusals on the terminal are audit records as well.
  CommandResult used = collector_->Ctl({"audit", "--action", "unlock.use"});
  EXPECT_NE(used.out.find("terminal:T-UNLOCK"), std::string::npos) << used.out;
  CommandResult refused = collector_->Ctl({"audit", "--action", "unlock.refuse"});
  EXPECT_NE(refused.out.find("denied"), std::string::npos) << refused.out;
}

TEST_F(UnlockTest, AnAgentWithoutTheUnlockKeyRefusesEveryCode) {
  AgentProcess plain(pki_, dir_, *collector_, "T-PLAIN", "osaka",
                     "unlock:\n  socket: " + dir_.File("plain.sock") + "\n");
  plain.Start();
  CommandResult r;
  ASSERT_TRUE(WaitUntil(
      [&] {
        r = RunCommand({MAMORI_AGENT_BIN, "unlock", "--socket", dir_.File("plain.sock"),
                        "AAAAAA-AAAAAA-AAAAAA"});
        return r.err.find("cannot reach") == std::string::npos;
      },
      seconds(20)))
      << r.err;
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refused (unavailable): offline unlock is not set up"), std::string::npos)
      << r.err;
}

TEST_F(UnlockTest, ReportedUsesAreReconciledWithIssuedCodes) {
  // A terminal that never connected: its certificate is given when issuing.
  const TlsPaths terminal = pki_.IssueTerminal("T-RECON", "osaka");
  CommandResult issued =
      collector_->Ctl({"unlock", "issue", "--terminal", "T-RECON", "--device", "0781:5581",
                       "--serial", kSerial, "--terminal-cert", terminal.cert, "--output", "json"});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  const auto at = issued.out.find("\"code\": \"");
  ASSERT_NE(at, std::string::npos) << issued.out;
  const std::string code = issued.out.substr(at + 9, 20);
  // A well-formed code this collector never issued (made with another key).
  const std::string forged =
      IssueUnlockCode({"elsewhere", "T-RECON", std::string(32, 'f')}, {0x0781, 0x5581, kSerial},
                      SystemClock().NowMs() + 3'600'000, 9)
          .value();

  // What the terminal reports once its link is back.
  v1::EventBatch batch;
  uint64_t seq = 0;
  for (const std::string& c : {code, forged}) {
    Event e;
    e.seq = ++seq;
    e.time_ms = SystemClock().NowMs();
    e.kind = EventKind::kUnlockCodeAccepted;
    e.severity = Severity::kWarning;
    e.detail = FormatUnlockAcceptedDetail(c, "0781:5581 serial 'x'", "later", "uid 1000 (alice)");
    ToProto(e, batch.add_events());
  }
  auto agent = collector_->Agent(terminal);
  grpc::ClientContext ctx;
  v1::EventAck ack;
  ASSERT_TRUE(agent->ReportEvents(WithDeadline(&ctx), batch, &ack).ok());
  EXPECT_EQ(ack.acked_through_seq(), 2u);

  CommandResult list =
      collector_->Ctl({"unlock", "list", "--terminal", "T-RECON", "--output", "json"});
  EXPECT_NE(list.out.find("\"usedBy\": \"uid 1000 (alice)\""), std::string::npos) << list.out;

  auto admin = collector_->Admin(pki_.Admin());
  grpc::ClientContext qctx;
  v1::QueryEventsRequest req;
  req.set_terminal_id("T-RECON");
  v1::QueryEventsResponse resp;
  ASSERT_TRUE(admin->QueryEvents(WithDeadline(&qctx), req, &resp).ok());
  ASSERT_EQ(resp.events_size(), 2);
  for (const auto& e : resp.events()) {
    const bool is_forged = e.detail().find(forged) != std::string::npos;
    EXPECT_EQ(e.severity(), is_forged ? v1::SEVERITY_ALERT : v1::SEVERITY_WARNING) << e.detail();
    EXPECT_EQ(e.detail().find("never issued") != std::string::npos, is_forged) << e.detail();
  }
}

}  // namespace
}  // namespace mamori::testing
