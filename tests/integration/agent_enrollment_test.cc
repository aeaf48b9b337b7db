// The agent's own enrollment and renewal against a real collector process
// and a real agent process, over real TLS on loopback: an agent configured
// with only a token and the root CA's fingerprint enrolls, reports, and its
// token file is gone; a wrong pin is refused before the token leaves the
// terminal; a refused token leaves no identity and is retried; a
// short-lived certificate is renewed without losing an event; a collector
// that refuses renewal makes the agent raise the alarm before expiry.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/crypto/ca_pin.h"
#include "common/crypto/pki.h"
#include "tests/integration/collector_test.h"
#include "tests/integration/delivery.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

using std::chrono::seconds;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// A mamori-agent process whose agent.yaml has an enrollment section instead
// of tls: (or, for renewal tests, an identity placed in state_dir/identity
// beforehand).
class EnrollingAgent {
 public:
  EnrollingAgent(TestPki& pki, const TempDir& dir, const CollectorProcess& collector,
                 int enroll_port, const std::string& id, const std::string& pin,
                 const std::string& token)
      : id_(id) {
    device_dir_ = dir.File("devices-" + id);
    state_dir_ = dir.File("state-" + id);
    log_path_ = dir.File("agent-" + id + ".log");
    token_file_ = dir.File("token-" + id);
    std::filesystem::create_directories(device_dir_);
    if (!token.empty()) std::ofstream(token_file_) << token << "\n";
    const std::string yaml =
        "collector:\n  address: " + collector.address() +
        "\n  server_name: " + std::string(TestPki::kServerName) +
        "\nenrollment:\n  address: 127.0.0.1:" + std::to_string(enroll_port) +
        "\n  ca_fingerprint: \"" + FormatFingerprint(pin) + "\"\n  token_file: " + token_file_ +
        "\n  terminal_id: " + id + "\npolicy:\n  public_key_file: " + pki.PolicyKey().pub +
        "\nreport:\n  interval: 5s\nbackoff:\n  initial: 200ms\n  max: 2s\n"
        "devices:\n  backend: simulated\n  directory: " +
        device_dir_ + "\nstate_dir: " + state_dir_ + "\nlog:\n  level: debug\n";
    config_path_ = dir.Write("agent-" + id + ".yaml", yaml);
  }

  // An identity as if enrolled before: a certificate from the test CA valid
  // for `life_s` seconds from about now.
  void SeedIdentity(TestPki& pki, int64_t life_s) {
    IssueRequest req;
    req.kind = CertKind::kTerminal;
    req.id = id_;
    req.group = "osaka/suita";
    req.not_before_ms = NowMs() - 1000;
    req.validity_seconds = life_s;
    const TlsPaths tls = pki.Issue("seeded-" + id_, req);
    const std::string identity = state_dir_ + "/identity";
    std::filesystem::create_directories(identity);
    std::filesystem::copy_file(tls.key, identity + "/key.pem");
    std::filesystem::copy_file(tls.cert, identity + "/cert.pem");
    std::filesystem::copy_file(tls.ca, identity + "/ca.pem");
  }

  void Start() {
    process_.emplace(ChildProcess::Start({MAMORI_AGENT_BIN, "--config", config_path_}, log_path_));
  }
  void Plug(const std::string& name, const std::string& yaml) const {
    const std::string tmp = device_dir_ + "/." + name + ".tmp";
    std::ofstream(tmp) << yaml;
    std::filesystem::rename(tmp, device_dir_ + "/" + name + ".yaml");
  }
  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) const {
    return WaitUntil([&] { return Log().find(needle) != std::string::npos; }, timeout);
  }
  std::string Log() const { return ReadWholeFile(log_path_); }
  std::string Identity(const std::string& file) const { return state_dir_ + "/identity/" + file; }
  const std::string& id() const { return id_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& token_file() const { return token_file_; }
  ChildProcess& process() { return *process_; }

 private:
  std::string id_;
  std::string device_dir_;
  std::string state_dir_;
  std::string log_path_;
  std::string token_file_;
  std::string config_path_;
  std::optional<ChildProcess> process_;
};

class AgentEnrollmentTest : public ::testing::Test {
 protected:
  // A collector with its enrollment port; the test CA is the issuing CA.
  // `extra` is added to the enrollment section.
  void StartCollector(bool enrollment, const std::string& lifetime = "10m") {
    std::string yaml;
    if (enrollment) {
      port_file_ = dir_.File("enroll.port");
      yaml = "enrollment:\n  listen: 127.0.0.1:0\n  port_file: " + port_file_ +
             "\n  issuing_ca_cert_file: " + pki_.dir() +
             "/ca.pem\n  issuing_ca_key_file: " + pki_.dir() +
             "/ca.key\n  certificate_lifetime: " + lifetime + "\n  terminal_id: request\n";
    }
    collector_ = std::make_unique<CollectorProcess>(pki_, dir_, yaml);
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
    if (enrollment) enroll_port_ = std::stoi(ReadWholeFile(port_file_));
    admin_ = collector_->Admin(pki_.Admin());
    pin_ = *CertificateFingerprint(ReadWholeFile(pki_.ca_file()));
  }

  std::string CreateToken(const std::string& group, uint32_t uses) {
    grpc::ClientContext ctx;
    v1::CreateEnrollTokenRequest req;
    req.set_group(group);
    req.set_uses(uses);
    req.set_note("agent enrollment test");
    v1::CreateEnrollTokenResponse resp;
    const grpc::Status s = admin_->CreateEnrollToken(WithDeadline(&ctx), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.token_text();
  }

  std::optional<v1::TerminalDetail> Terminal(const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetTerminalRequest req;
    req.set_terminal_id(id);
    v1::TerminalDetail out;
    if (!admin_->GetTerminal(WithDeadline(&ctx), req, &out).ok()) return std::nullopt;
    return out;
  }

  std::vector<v1::EventView> Events(const std::string& terminal, v1::EventKind kind) {
    grpc::ClientContext ctx;
    v1::QueryEventsRequest req;
    req.set_terminal_id(terminal);
    req.add_kinds(kind);
    v1::QueryEventsResponse resp;
    if (!admin_->QueryEvents(WithDeadline(&ctx), req, &resp).ok()) return {};
    return {resp.events().begin(), resp.events().end()};
  }

  TempDir dir_;
  TestPki pki_;
  std::unique_ptr<CollectorProcess> collector_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::string port_file_;
  int enroll_port_ = 0;
  std::string pin_;
};

TEST_F(AgentEnrollmentTest, AgentWithOnlyATokenEnrollsReportsAndDeletesTheToken) {
  StartCollector(true);
  const std::string token = CreateToken("osaka/suita/hoken", 1);
  EnrollingAgent agent(pki_, dir_, *collector_, enroll_port_, "enr-001", pin_, token);
  agent.Start();
  ASSERT_TRUE(WaitUntil([&] { return Terminal("enr-001").has_value(); }, seconds(30)))
      << agent.Log() << collector_->Log();
  EXPECT_EQ(Terminal("enr-001")->summary().group(), "osaka/suita/hoken");
  EXPECT_FALSE(Exists(agent.token_file())) << agent.Log();
  struct stat st {};
  ASSERT_EQ(stat(agent.Identity("key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(Exists(agent.Identity("cert.pem")));
  EXPECT_EQ(*CertificateFingerprint(ReadWholeFile(agent.Identity("ca.pem"))), pin_);
  EXPECT_EQ(agent.Log().find(token), std::string::npos) << "the agent logged its token";

  // It reports like any agent: a blocked stick reaches the collector.
  agent.Plug("stick", StickYaml("ENR0001"));
  ASSERT_TRUE(WaitUntil([&] { return !Events("enr-001", v1::EVENT_KIND_DEVICE_BLOCKED).empty(); },
                        seconds(30)))
      << agent.Log();
  Delivered d;
  ASSERT_TRUE(WaitDelivered(*collector_, agent.state_dir(), "enr-001", seconds(30), &d));
  ExpectExactlyOnceInOrder(d.rows, d.recorded, "enr-001");

  // Restarted, it uses the identity it has and needs no token.
  agent.process().Signal(SIGTERM);
  ASSERT_TRUE(agent.process().Wait(seconds(20)).has_value());
  const std::string cert_before = ReadWholeFile(agent.Identity("cert.pem"));
  agent.Start();
  ASSERT_TRUE(agent.WaitForLog("started: collector", seconds(20))) << agent.Log();
  const uint64_t seq = JournalHighestSeq(agent.state_dir());
  ASSERT_TRUE(WaitUntil([&] { return AckedSeq(agent.state_dir()) >= seq; }, seconds(30)));
  EXPECT_EQ(ReadWholeFile(agent.Identity("cert.pem")), cert_before);
}

TEST_F(AgentEnrollmentTest, WrongPinIsRefusedBeforeTheTokenIsSent) {
  StartCollector(true);
  const std::string token = CreateToken("osaka", 1);
  KeyAndCert other = *CreateCa("Not the deployment's root", 30);
  const std::string wrong_pin = *CertificateFingerprint(other.cert_pem);
  EnrollingAgent agent(pki_, dir_, *collector_, enroll_port_, "enr-pin", wrong_pin, token);
  agent.Start();
  ASSERT_TRUE(agent.WaitForLog("enrollment failed (attempt 2)", seconds(30))) << agent.Log();
  const std::string log = agent.Log();
  EXPECT_NE(log.find("not trusted, token not sent"), std::string::npos) << log;
  EXPECT_NE(log.find("pinned fingerprint " + FormatFingerprint(wrong_pin)), std::string::npos)
      << log;
  EXPECT_FALSE(Exists(agent.Identity("cert.pem")));
  EXPECT_TRUE(Exists(agent.token_file()));
  // The collector never saw an enrollment request: nothing refused, nothing
  // enrolled, and the single-use token is still good.
  const std::string collector_log = collector_->Log();
  EXPECT_EQ(collector_log.find("enrollment from"), std::string::npos) << collector_log;
  EXPECT_EQ(collector_log.find("enrolled terminal"), std::string::npos) << collector_log;
  EXPECT_FALSE(Terminal("enr-pin").has_value());
  agent.process().Signal(SIGKILL);
  agent.process().Wait(seconds(10));
  EnrollingAgent good(pki_, dir_, *collector_, enroll_port_, "enr-pin-ok", pin_, token);
  good.Start();
  ASSERT_TRUE(WaitUntil([&] { return Terminal("enr-pin-ok").has_value(); }, seconds(30)))
      << good.Log();
}

TEST_F(AgentEnrollmentTest, RefusedTokenLeavesNoIdentityAndIsRetried) {
  StartCollector(true);
  EnrollingAgent agent(pki_, dir_, *collector_, enroll_port_, "enr-bad", pin_,
                       "mt_not_a_real_token");
  agent.Start();
  ASSERT_TRUE(agent.WaitForLog("enrollment failed (attempt 3)", seconds(30))) << agent.Log();
  const std::string log = agent.Log();
  EXPECT_NE(log.find("UNAUTHENTICATED"), std::string::npos) << log;
  EXPECT_FALSE(Exists(agent.Identity("cert.pem")));
  EXPECT_FALSE(Exists(agent.Identity("key.pem")));
  EXPECT_TRUE(Exists(agent.token_file()));
  EXPECT_FALSE(Terminal("enr-bad").has_value());
  // The collector heard each attempt and refused it.
  EXPECT_NE(collector_->Log().find("refused"), std::string::npos) << collector_->Log();

  // A good token put in place is picked up without a restart.
  const std::string token = CreateToken("osaka", 1);
  std::ofstream(agent.token_file()) << token << "\n";
  ASSERT_TRUE(WaitUntil([&] { return Terminal("enr-bad").has_value(); }, seconds(30)))
      << agent.Log();
  EXPECT_FALSE(Exists(agent.token_file()));
}

TEST_F(AgentEnrollmentTest, ShortLivedCertificateIsRenewedWithoutLosingEvents) {
  StartCollector(true, "10m");
  EnrollingAgent agent(pki_, dir_, *collector_, enroll_port_, "ren-001", pin_, "");
  agent.SeedIdentity(pki_, 60);  // renewal due after 40 s
  const std::string old_key = ReadWholeFile(agent.Identity("key.pem"));
  const CertInfo old_cert = *InspectCertificate(ReadWholeFile(agent.Identity("cert.pem")));
  agent.Start();
  ASSERT_TRUE(WaitUntil([&] { return Terminal("ren-001").has_value(); }, seconds(20)))
      << agent.Log();
  // Devices come and go across the renewal.
  for (int i = 0; i < 12; ++i) {
    agent.Plug("stick-" + std::to_string(i), StickYaml("REN" + std::to_string(i)));
    std::this_thread::sleep_for(seconds(4));
  }
  ASSERT_TRUE(WaitUntil(
      [&] { return !Events("ren-001", v1::EVENT_KIND_CERTIFICATE_RENEWED).empty(); }, seconds(40)))
      << agent.Log() << collector_->Log();
  EXPECT_NE(ReadWholeFile(agent.Identity("key.pem")), old_key);
  const CertInfo new_cert = *InspectCertificate(ReadWholeFile(agent.Identity("cert.pem")));
  EXPECT_GT(new_cert.not_after_ms, old_cert.not_after_ms + 5 * 60 * 1000);
  EXPECT_FALSE(Exists(agent.Identity("pending")));

  // After the old certificate expired, reports go on with the new one and
  // every event arrived exactly once.
  ASSERT_TRUE(WaitUntil([&] { return NowMs() > old_cert.not_after_ms + 2000; }, seconds(60)));
  agent.Plug("after-expiry", StickYaml("RENLAST"));
  Delivered d;
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& e : Events("ren-001", v1::EVENT_KIND_DEVICE_BLOCKED)) {
          if (e.device().serial() == "RENLAST") return true;
        }
        return false;
      },
      seconds(30)))
      << agent.Log();
  ASSERT_TRUE(WaitDelivered(*collector_, agent.state_dir(), "ren-001", seconds(30), &d));
  ExpectExactlyOnceInOrder(d.rows, d.recorded, "ren-001");
  EXPECT_EQ(agent.Log().find("certificate_renewal_failed"), std::string::npos);
}

TEST_F(AgentEnrollmentTest, RefusedRenewalRaisesTheAlarmBeforeExpiry) {
  StartCollector(false);  // no issuing CA: renewal is refused
  EnrollingAgent agent(pki_, dir_, *collector_, /*enroll_port=*/1, "ren-fail", pin_, "");
  agent.SeedIdentity(pki_, 60);  // renewal due after 40 s, alarm after 50 s
  const CertInfo cert = *InspectCertificate(ReadWholeFile(agent.Identity("cert.pem")));
  agent.Start();
  ASSERT_TRUE(WaitUntil([&] { return Terminal("ren-fail").has_value(); }, seconds(20)))
      << agent.Log();
  ASSERT_TRUE(WaitUntil(
      [&] { return !Events("ren-fail", v1::EVENT_KIND_CERTIFICATE_RENEWAL_FAILED).empty(); },
      seconds(70)))
      << agent.Log() << collector_->Log();
  const auto alarms = Events("ren-fail", v1::EVENT_KIND_CERTIFICATE_RENEWAL_FAILED);
  EXPECT_EQ(alarms[0].severity(), v1::SEVERITY_ALERT);
  EXPECT_NE(alarms[0].detail().find(FormatUtc(cert.not_after_ms)), std::string::npos)
      << alarms[0].detail();
  EXPECT_NE(alarms[0].detail().find("RenewCertificate"), std::string::npos) << alarms[0].detail();
  // Stored before the certificate expired.
  EXPECT_LT(alarms[0].received().seconds() * 1000, cert.not_after_ms);
  EXPECT_NE(agent.Log().find("certificate renewal failed (attempt"), std::string::npos);
  EXPECT_TRUE(Events("ren-fail", v1::EVENT_KIND_CERTIFICATE_RENEWED).empty());
}

}  // namespace
}  // namespace mamori::testing
