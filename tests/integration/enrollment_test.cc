// Enrollment and renewal against a real collector process over real TLS on
// loopback: tokens from the admin API, Enroll on the enrollment port (TLS
// that authenticates the collector only), reports and renewal over the
// mutual-TLS identity the enrollment produced.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "common/crypto/csr.h"
#include "mamori/v1/enrollment.grpc.pb.h"
#include "proto/wire/convert.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

using ::testing::HasSubstr;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The key and certificate an enrolled agent holds.
struct Enrolled {
  std::string key_pem;
  v1::IssuedCertificate cert;
};

class EnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override { StartBoth(""); }

  void StartBoth(const std::string& extra) {
    // IPv4 and IPv6 loopback on one port, so a test can call from two
    // addresses: a port the kernel just handed out and freed on both.
    const int port = FreePortOnBothLoopbacks();
    ASSERT_GT(port, 0);
    StartCollector("127.0.0.1:" + std::to_string(port) + ",[::1]:" + std::to_string(port), extra);
  }

  static int FreePortOnBothLoopbacks() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int v4 = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof(a);
      if (bind(v4, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
          getsockname(v4, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        close(v4);
        continue;
      }
      const int port = ntohs(a.sin_port);
      const int v6 = socket(AF_INET6, SOCK_STREAM, 0);
      sockaddr_in6 b{};
      b.sin6_family = AF_INET6;
      b.sin6_addr = in6addr_loopback;
      b.sin6_port = htons(static_cast<uint16_t>(port));
      const bool ok = bind(v6, reinterpret_cast<sockaddr*>(&b), sizeof(b)) == 0;
      close(v6);
      close(v4);
      if (ok) return port;
    }
    return 0;
  }

  void StartCollector(const std::string& listen, const std::string& extra) {
    port_file_ = dir_.File("enroll.port");
    collector_ = std::make_unique<CollectorProcess>(
        pki_, dir_,
        "enrollment:\n  listen: \"" + listen + "\"\n  port_file: " + port_file_ +
            "\n  issuing_ca_cert_file: " + pki_.dir() + "/ca.pem\n  issuing_ca_key_file: " +
            pki_.dir() + "/ca.key\n  certificate_lifetime: 10m\n" + extra);
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
    enroll_port_ = std::stoi(ReadWholeFile(port_file_));
    ASSERT_GT(enroll_port_, 0);
    admin_ = collector_->Admin(pki_.Admin());
  }

  // host: "127.0.0.1" or "[::1]".
  std::shared_ptr<grpc::Channel> EnrollChannel(const std::string& host = "127.0.0.1") const {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = ReadWholeFile(pki_.ca_file());
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(std::string(TestPki::kServerName));
    // One connection per channel: concurrent tests model separate terminals.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(host + ":" + std::to_string(enroll_port_),
                                     grpc::SslCredentials(opts), args);
  }

  // A mutual-TLS channel to the main port with in-memory credentials.
  std::shared_ptr<grpc::Channel> MainChannel(const std::string& key_pem,
                                             const std::string& chain_pem) const {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = ReadWholeFile(pki_.ca_file());
    opts.pem_private_key = key_pem;
    opts.pem_cert_chain = chain_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(std::string(TestPki::kServerName));
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(collector_->address(), grpc::SslCredentials(opts), args);
  }

  std::string CreateToken(const std::string& group, uint32_t uses, uint64_t expires_s = 0) {
    grpc::ClientContext ctx;
    v1::CreateEnrollTokenRequest req;
    req.set_group(group);
    req.set_uses(uses);
    req.set_expires_in_seconds(expires_s);
    req.set_note("test");
    v1::CreateEnrollTokenResponse resp;
    const grpc::Status s = admin_->CreateEnrollToken(WithDeadline(&ctx), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.token_text();
  }

  grpc::Status Enroll(const std::string& token, const std::string& hostname, Enrolled* out,
                      const std::string& host = "127.0.0.1") {
    Result<KeyAndCsr> made = MakeKeyAndCsr(hostname.empty() ? "x" : hostname);
    EXPECT_TRUE(made.ok());
    auto stub = v1::EnrollmentService::NewStub(EnrollChannel(host));
    grpc::ClientContext ctx;
    v1::EnrollRequest req;
    req.set_token(token);
    req.set_csr_pem(made->csr_pem);
    req.set_hostname(hostname);
    req.set_agent_version("test");
    req.set_os("Linux");
    out->key_pem = made->key_pem;
    return stub->Enroll(WithDeadline(&ctx, 30), req, &out->cert);
  }

  static v1::StateReport MinimalReport(const std::string& hostname) {
    v1::StateReport r;
    r.set_hostname(hostname);
    r.set_agent_version("test");
    r.set_report_interval_seconds(60);
    r.mutable_enforcement()->set_mode(v1::ENFORCEMENT_MODE_ENFORCE);
    r.mutable_enforcement()->set_healthy(true);
    SetMs(NowMs(), r.mutable_agent_time());
    return r;
  }

  grpc::Status Report(const Enrolled& e) {
    auto stub = v1::AgentService::NewStub(
        MainChannel(e.key_pem, e.cert.certificate_pem() + e.cert.chain_pem()));
    grpc::ClientContext ctx;
    v1::StateAck ack;
    return stub->ReportState(WithDeadline(&ctx), MinimalReport(e.cert.terminal_id()), &ack);
  }

  TempDir dir_;
  TestPki pki_;
  std::string port_file_;
  int enroll_port_ = 0;
  std::unique_ptr<CollectorProcess> collector_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(EnrollmentTest, EnrolledTerminalReportsAndRenewsWithAFreshKey) {
  const std::string token = CreateToken("osaka/suita", 1);
  ASSERT_THAT(token, HasSubstr("mt_"));
  Enrolled e;
  grpc::Status s = Enroll(token, "PC-001", &e);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << collector_->Log();
  // The id is the lower-cased host name; the group comes from the token.
  EXPECT_EQ(e.cert.terminal_id(), "pc-001");
  EXPECT_EQ(e.cert.group(), "osaka/suita");
  EXPECT_EQ(e.cert.ca_pem(), ReadWholeFile(pki_.ca_file()));
  EXPECT_TRUE(CheckKeyMatchesCertificate(e.key_pem, e.cert.certificate_pem()).ok());
  EXPECT_TRUE(VerifyCertificate(e.cert.ca_pem(), e.cert.certificate_pem() + e.cert.chain_pem(),
                                NowMs(), CertPurpose::kClient)
                  .ok());
  // Valid for the configured 10 minutes from now (and from a little before,
  // for clocks that differ).
  EXPECT_NEAR(ToMs(e.cert.not_after()), NowMs() + 10 * 60'000, 60'000);
  EXPECT_LT(ToMs(e.cert.not_before()), NowMs() - 60'000);
  Result<CertInfo> info = InspectCertificate(e.cert.certificate_pem());
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->uris,
              ::testing::ElementsAre("mamori://terminal/pc-001", "mamori://group/osaka/suita"));

  s = Report(e);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << collector_->Log();

  // Renewal over the enrolled identity, with a fresh key.
  auto agent = v1::AgentService::NewStub(
      MainChannel(e.key_pem, e.cert.certificate_pem() + e.cert.chain_pem()));
  Result<KeyAndCsr> fresh = MakeKeyAndCsr("ignored-name");
  ASSERT_TRUE(fresh.ok());
  v1::RenewCertificateRequest renew;
  renew.set_csr_pem(fresh->csr_pem);
  v1::IssuedCertificate renewed;
  {
    grpc::ClientContext ctx;
    s = agent->RenewCertificate(WithDeadline(&ctx), renew, &renewed);
    ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << collector_->Log();
  }
  EXPECT_EQ(renewed.terminal_id(), "pc-001");
  EXPECT_EQ(renewed.group(), "osaka/suita");
  EXPECT_NE(renewed.serial(), e.cert.serial());
  EXPECT_TRUE(CheckKeyMatchesCertificate(fresh->key_pem, renewed.certificate_pem()).ok());
  Enrolled next{fresh->key_pem, renewed};
  s = Report(next);
  EXPECT_TRUE(s.ok()) << s.error_message();

  // The same key again is not a renewal.
  Result<KeyAndCsr> again = MakeKeyAndCsr("x");
  ASSERT_TRUE(again.ok());
  {
    // A CSR over the current key: build it from the enrolled key.
    auto stub = v1::AgentService::NewStub(
        MainChannel(next.key_pem, next.cert.certificate_pem() + next.cert.chain_pem()));
    grpc::ClientContext ctx;
    v1::RenewCertificateRequest same;
    same.set_csr_pem(renew.csr_pem());  // the CSR of the key now in use
    v1::IssuedCertificate out;
    s = stub->RenewCertificate(WithDeadline(&ctx), same, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("fresh"));
  }

  // Recorded: one enrollment with the address, in the audit log too.
  grpc::ClientContext ctx;
  v1::ListEnrollmentsResponse list;
  ASSERT_TRUE(admin_->ListEnrollments(WithDeadline(&ctx), {}, &list).ok());
  ASSERT_EQ(list.enrollments_size(), 1);
  EXPECT_EQ(list.enrollments(0).terminal_id(), "pc-001");
  EXPECT_EQ(list.enrollments(0).serial(), e.cert.serial());
  EXPECT_EQ(list.enrollments(0).source_address(), "127.0.0.1");
  grpc::ClientContext actx;
  v1::QueryAuditRequest aq;
  aq.set_action("terminal.enroll");
  v1::QueryAuditResponse audit;
  ASSERT_TRUE(admin_->QueryAudit(WithDeadline(&actx), aq, &audit).ok());
  ASSERT_EQ(audit.entries_size(), 1);
  EXPECT_EQ(audit.entries(0).target(), "pc-001");
  EXPECT_THAT(audit.entries(0).detail(), HasSubstr(e.cert.serial()));
}

TEST_F(EnrollmentTest, EnrollmentPortServesOnlyEnroll) {
  // Agent and admin calls on the enrollment port: not served there.
  grpc::ClientContext ctx1;
  v1::StateAck ack;
  auto agent = v1::AgentService::NewStub(EnrollChannel());
  EXPECT_EQ(agent->ReportState(WithDeadline(&ctx1), MinimalReport("x"), &ack).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  grpc::ClientContext ctx2;
  v1::ListTerminalsResponse terminals;
  auto admin = v1::AdminService::NewStub(EnrollChannel());
  EXPECT_EQ(admin->ListTerminals(WithDeadline(&ctx2), {}, &terminals).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // And the main port still wants a client certificate.
  grpc::ClientContext ctx3;
  auto no_cert = v1::AdminService::NewStub(collector_->Channel(std::nullopt));
  EXPECT_FALSE(no_cert->ListTerminals(WithDeadline(&ctx3), {}, &terminals).ok());
}

TEST_F(EnrollmentTest, BadTokensAllGetTheSameAnswer) {
  const std::string once = CreateToken("osaka", 1);
  Enrolled e;
  ASSERT_TRUE(Enroll(once, "pc-1", &e).ok()) << collector_->Log();

  const std::string revoked = CreateToken("osaka", 5);
  {
    grpc::ClientContext ctx;
    v1::RevokeEnrollTokenRequest req;
    req.set_id(revoked.substr(3, 8));
    v1::RevokeEnrollTokenResponse resp;
    ASSERT_TRUE(admin_->RevokeEnrollToken(WithDeadline(&ctx), req, &resp).ok());
  }
  // A token of another deployment (another collector, another store).
  TempDir other_dir;
  TestPki other_pki;
  CollectorProcess other(other_pki, other_dir,
                         "enrollment:\n  issuing_ca_cert_file: " + other_pki.dir() +
                             "/ca.pem\n  issuing_ca_key_file: " + other_pki.dir() + "/ca.key\n");
  ASSERT_TRUE(other.Start()) << other.Log();
  std::string foreign;
  {
    grpc::ClientContext ctx;
    v1::CreateEnrollTokenRequest req;
    req.set_group("osaka");
    v1::CreateEnrollTokenResponse resp;
    ASSERT_TRUE(
        other.Admin(other_pki.Admin())->CreateEnrollToken(WithDeadline(&ctx), req, &resp).ok());
    foreign = resp.token_text();
  }
  std::string forged = once;
  forged.back() = forged.back() == 'a' ? 'b' : 'a';

  std::set<std::string> messages;
  for (const auto& [what, token] :
       std::vector<std::pair<std::string, std::string>>{{"used up", once},
                                                        {"revoked", revoked},
                                                        {"foreign", foreign},
                                                        {"forged", forged},
                                                        {"garbage", "hello"},
                                                        {"huge", std::string(20'000, 'a')}}) {
    Enrolled out;
    const grpc::Status s = Enroll(token, "pc-2", &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << what << ": " << s.error_message();
    messages.insert(s.error_message());
  }
  EXPECT_EQ(messages.size(), 1u);
  // The precise reasons are in the log, with the address.
  EXPECT_THAT(collector_->Log(), HasSubstr("refused: token used up"));
  EXPECT_THAT(collector_->Log(), HasSubstr("refused: token revoked"));
  EXPECT_THAT(collector_->Log(), HasSubstr("enrollment from 127.0.0.1 refused: unknown token"));
}

TEST_F(EnrollmentTest, ClashWithActiveTerminalNeedsAllowance) {
  const std::string token = CreateToken("osaka", 3);
  Enrolled first;
  ASSERT_TRUE(Enroll(token, "pc-9", &first).ok());
  Enrolled second;
  grpc::Status s = Enroll(token, "PC-9", &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("allow-reenroll pc-9"));
  {
    grpc::ClientContext ctx;
    v1::AllowReenrollmentRequest req;
    req.set_terminal_id("pc-9");
    v1::AllowReenrollmentResponse resp;
    ASSERT_TRUE(admin_->AllowReenrollment(WithDeadline(&ctx), req, &resp).ok());
  }
  s = Enroll(token, "pc-9", &second);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(second.cert.serial(), first.cert.serial());
  // One use only: the next one clashes again, and the refused attempt used
  // no token use (the token had 3: two issued, one left).
  Enrolled third;
  EXPECT_EQ(Enroll(token, "pc-9", &third).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  grpc::ClientContext ctx;
  v1::ListEnrollTokensResponse tokens;
  ASSERT_TRUE(admin_->ListEnrollTokens(WithDeadline(&ctx), {}, &tokens).ok());
  ASSERT_EQ(tokens.tokens_size(), 1);
  EXPECT_EQ(tokens.tokens(0).uses_left(), 1u);
}

TEST_F(EnrollmentTest, WrongTokensFromOneAddressAreRateLimitedOthersUnaffected) {
  const std::string good = CreateToken("osaka", 1);
  int limited = 0;
  int unauthenticated = 0;
  for (int i = 0; i < 100; ++i) {
    Enrolled out;
    const grpc::Status s = Enroll("mt_aaaaaaaa_" + std::string(52, 'b'), "pc-x", &out);
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++limited;
    if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) ++unauthenticated;
  }
  // The bucket holds 10 attempts a minute: the first few are judged, the
  // rest refused unread (a slow run may refill a token or two).
  EXPECT_GE(unauthenticated, 10);
  EXPECT_LE(unauthenticated, 15);
  EXPECT_EQ(limited + unauthenticated, 100);
  // Another address (IPv6 loopback) enrolls at once.
  Enrolled honest;
  const grpc::Status s = Enroll(good, "pc-honest", &honest, "[::1]");
  EXPECT_TRUE(s.ok()) << s.error_message() << "\n" << collector_->Log();
  EXPECT_THAT(collector_->Log(), HasSubstr("enrollment from 127.0.0.1 refused: more than 10"));
}

TEST_F(EnrollmentTest, MamorictlManagesTokensAndRenewsItsOwnCertificate) {
  CommandResult created =
      collector_->Ctl({"enroll", "token", "create", "--group", "osaka/suita", "--uses", "2",
                       "--expires", "2d", "--note", "suita rollout"});
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  const auto at = created.out.find("mt_");
  ASSERT_NE(at, std::string::npos) << created.out;
  const std::string token = created.out.substr(at, 64);
  const std::string id = token.substr(3, 8);
  Enrolled e;
  ASSERT_TRUE(Enroll(token, "pc-cli", &e).ok());

  CommandResult list = collector_->Ctl({"enroll", "token", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_THAT(list.out, HasSubstr(id));
  EXPECT_THAT(list.out, HasSubstr("1/2"));
  EXPECT_THAT(list.out, HasSubstr("suita rollout"));
  // The secret is never shown again.
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr(token)));

  CommandResult enrollments = collector_->Ctl({"enroll", "list"});
  ASSERT_EQ(enrollments.exit_code, 0) << enrollments.out;
  EXPECT_THAT(enrollments.out, HasSubstr("pc-cli"));
  EXPECT_THAT(enrollments.out, HasSubstr(e.cert.serial()));

  ASSERT_EQ(collector_->Ctl({"enroll", "token", "revoke", id}).exit_code, 0);
  Enrolled refused;
  EXPECT_EQ(Enroll(token, "pc-cli-2", &refused).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(collector_->Ctl({"enroll", "token", "list"}).out, HasSubstr("revoked"));
  EXPECT_NE(collector_->Ctl({"enroll", "token", "revoke", "nosuchid"}).exit_code, 0);

  CommandResult allow = collector_->Ctl({"enroll", "allow-reenroll", "pc-cli", "--expires", "1h"});
  EXPECT_EQ(allow.exit_code, 0) << allow.out;
  EXPECT_THAT(allow.out, HasSubstr("once more"));

  // pki renew: new key and certificate in place, old ones gone once proven.
  const TlsPaths admin = pki_.Admin();
  const std::string old_key = ReadWholeFile(admin.key);
  const std::string old_cert = ReadWholeFile(admin.cert);
  CommandResult renewed = collector_->Ctl({"pki", "renew"});
  ASSERT_EQ(renewed.exit_code, 0) << renewed.out << renewed.err << collector_->Log();
  EXPECT_NE(ReadWholeFile(admin.key), old_key);
  EXPECT_NE(ReadWholeFile(admin.cert), old_cert);
  EXPECT_TRUE(CheckKeyMatchesCertificate(ReadWholeFile(admin.key), ReadWholeFile(admin.cert)).ok());
  EXPECT_FALSE(std::filesystem::exists(admin.key + ".prev"));
  Result<CertInfo> info = InspectCertificate(ReadWholeFile(admin.cert));
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->uris, ::testing::ElementsAre("mamori://admin/admin"));
  // And the renewed identity works for the next command.
  EXPECT_EQ(collector_->Ctl({"enroll", "list"}).exit_code, 0);
}

// Many terminals at once: one address (loopback) stands for a whole
// prefecture's NAT, so the per-address limit is raised for these.
class EnrollmentLoadTest : public EnrollmentTest {
 protected:
  void SetUp() override { StartBoth("  max_attempts_per_minute: 10000\n"); }

  int64_t CountRows(const std::string& sql) const {
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(collector_->db_path().c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) !=
        SQLITE_OK) {
      sqlite3_close(raw);
      return -1;
    }
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    sqlite3_busy_timeout(db.get(), 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return -1;
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(st, &sqlite3_finalize);
    return sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  }

  // Runs `body(i)` for i in [0, n) on `threads` threads.
  static void Parallel(int n, int threads, const std::function<void(int)>& body) {
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (int i = next++; i < n; i = next++) body(i);
      });
    }
    for (auto& th : pool) th.join();
  }

  static std::string Host(int i) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "pc-%04d", i);
    return buf;
  }
};

TEST_F(EnrollmentLoadTest, ThousandClientsShareATokenOfThousandUses) {
  constexpr int kClients = 1000;
  const std::string token = CreateToken("osaka/suita", kClients);
  std::vector<Enrolled> out(kClients);
  std::vector<grpc::Status> status(kClients);
  Parallel(kClients, 100, [&](int i) { status[i] = Enroll(token, Host(i), &out[i]); });

  std::set<std::string> serials;
  std::set<std::string> keys;
  int ok = 0;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(status[i].ok()) << i << ": " << status[i].error_message();
    ++ok;
    EXPECT_EQ(out[i].cert.terminal_id(), Host(i));
    // Each certificate holds the key its own client made.
    EXPECT_TRUE(CheckKeyMatchesCertificate(out[i].key_pem, out[i].cert.certificate_pem()).ok())
        << i;
    serials.insert(out[i].cert.serial());
    keys.insert(*CertificatePublicKeySha256(out[i].cert.certificate_pem()));
  }
  EXPECT_EQ(ok, kClients);
  EXPECT_EQ(serials.size(), static_cast<std::size_t>(kClients));
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(kClients));
  Enrolled late;
  EXPECT_EQ(Enroll(token, "pc-late", &late).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM issued_certificates"), kClients);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM enrollments"), kClients);
  EXPECT_EQ(CountRows("SELECT uses_left FROM enroll_tokens"), 0);
}

TEST_F(EnrollmentLoadTest, ConcurrentEnrollmentsNeverExceedTheUses) {
  // 200 clients race for 50 uses: exactly 50 certificates.
  const std::string token = CreateToken("osaka", 50);
  std::atomic<int> issued{0};
  std::atomic<int> refused{0};
  Parallel(200, 50, [&](int i) {
    Enrolled e;
    const grpc::Status s = Enroll(token, Host(i), &e);
    if (s.ok()) ++issued;
    if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) ++refused;
  });
  EXPECT_EQ(issued.load(), 50);
  EXPECT_EQ(refused.load(), 150);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM issued_certificates"), 50);
}

TEST_F(EnrollmentLoadTest, RenewalUnderLoadLosesNoReport) {
  constexpr int kClients = 500;
  constexpr int kBatch = 5;
  const std::string token = CreateToken("osaka", kClients);
  std::vector<Enrolled> enrolled(kClients);
  Parallel(kClients, 50, [&](int i) {
    const grpc::Status s = Enroll(token, Host(i), &enrolled[i]);
    ASSERT_TRUE(s.ok()) << s.error_message();
  });
  const auto batch = [&](const std::string& id, uint64_t first) {
    v1::EventBatch b;
    for (uint64_t seq = first; seq < first + kBatch; ++seq) {
      v1::Event* e = b.add_events();
      e->set_seq(seq);
      SetMs(NowMs(), e->mutable_time());
      e->set_kind(v1::EVENT_KIND_POLICY_APPLIED);
      e->set_detail("load " + id);
    }
    return b;
  };
  std::atomic<int> failures{0};
  std::atomic<int> renewed{0};
  Parallel(kClients, 50, [&](int i) {
    const Enrolled& e = enrolled[i];
    auto old_stub = v1::AgentService::NewStub(
        MainChannel(e.key_pem, e.cert.certificate_pem() + e.cert.chain_pem()));
    const auto send = [&](v1::AgentService::Stub* stub, uint64_t first) {
      grpc::ClientContext ctx;
      v1::EventAck ack;
      const grpc::Status s =
          stub->ReportEvents(WithDeadline(&ctx, 60), batch(Host(i), first), &ack);
      if (!s.ok() || ack.acked_through_seq() != first + kBatch - 1) {
        ++failures;
        ADD_FAILURE() << Host(i) << " seq " << first << ": " << s.error_message();
      }
    };
    send(old_stub.get(), 1);
    Result<KeyAndCsr> fresh = MakeKeyAndCsr("x");
    v1::RenewCertificateRequest req;
    req.set_csr_pem(fresh->csr_pem);
    v1::IssuedCertificate next;
    {
      grpc::ClientContext ctx;
      const grpc::Status s = old_stub->RenewCertificate(WithDeadline(&ctx, 60), req, &next);
      if (!s.ok()) {
        ++failures;
        ADD_FAILURE() << Host(i) << " renew: " << s.error_message();
        return;
      }
    }
    ++renewed;
    // The old connection keeps reporting while the new identity takes over.
    send(old_stub.get(), 1 + kBatch);
    auto new_stub = v1::AgentService::NewStub(
        MainChannel(fresh->key_pem, next.certificate_pem() + next.chain_pem()));
    send(new_stub.get(), 1 + 2 * kBatch);
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(renewed.load(), kClients);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM events"), kClients * 3 * kBatch);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM issued_certificates WHERE reason = 'renew'"), kClients);
}

}  // namespace
}  // namespace mamori::testing
