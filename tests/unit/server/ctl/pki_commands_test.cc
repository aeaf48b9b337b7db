#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "common/crypto/credentials.h"
#include "common/crypto/pki.h"
#include "common/policy/policy_signing.h"
#include "server/ctl/cli.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/server/ctl/run_ctl.h"

namespace mamori::ctl {
namespace {

using ::mamori::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

CtlResult Ctl(const std::vector<std::string>& args) { return RunCtl(args); }

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string Read(const std::string& path) {
  Result<std::string> r = ReadFileToString(path);
  EXPECT_TRUE(r.ok()) << path;
  return r.ok() ? *r : std::string();
}

class PkiCommandsTest : public ::testing::Test {
 protected:
  std::string Pki() const { return dir_.File("pki"); }
  void Init() {
    const CtlResult r = Ctl({"pki", "init", "--dir", Pki(), "--name", "Test CA", "--days", "30"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  TempDir dir_;
};

TEST_F(PkiCommandsTest, InitCreatesCaWithPrivateKey) {
  Init();
  EXPECT_EQ(ModeOf(Pki() + "/ca.key"), 0600u);
  EXPECT_EQ(ModeOf(Pki()), 0700u);
  Result<CertInfo> ca = InspectCertificate(Read(Pki() + "/ca.pem"));
  ASSERT_TRUE(ca.ok());
  EXPECT_TRUE(ca->is_ca);
  EXPECT_EQ(ca->common_name, "Test CA");
  EXPECT_EQ(ca->not_after_ms - ca->not_before_ms, 30LL * 24 * 3600 * 1000);
}

TEST_F(PkiCommandsTest, InitRefusesToOverwriteUnlessForced) {
  Init();
  const std::string before = Read(Pki() + "/ca.pem");
  const CtlResult again = Ctl({"pki", "init", "--dir", Pki()});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr(Pki() + "/ca.pem already exists"));
  EXPECT_THAT(again.err, HasSubstr("--force"));
  EXPECT_EQ(Read(Pki() + "/ca.pem"), before);

  // Even a lone key is protected.
  std::filesystem::remove(Pki() + "/ca.pem");
  const CtlResult key_only = Ctl({"pki", "init", "--dir", Pki()});
  EXPECT_EQ(key_only.code, 1);
  EXPECT_THAT(key_only.err, HasSubstr(Pki() + "/ca.key already exists"));

  const CtlResult forced = Ctl({"pki", "init", "--dir", Pki(), "--force"});
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(Read(Pki() + "/ca.pem"), before);
}

TEST_F(PkiCommandsTest, IssueAgent) {
  Init();
  const CtlResult r = Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "t-001", "--group",
                           "osaka/suita/hoken", "--days", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("mamori://terminal/t-001"));
  EXPECT_THAT(r.out, HasSubstr("mamori://group/osaka/suita/hoken"));
  EXPECT_THAT(r.out, HasSubstr(Pki() + "/agent-t-001.pem"));
  EXPECT_THAT(r.out, HasSubstr("valid:"));
  EXPECT_EQ(ModeOf(Pki() + "/agent-t-001.key"), 0600u);

  Result<TlsMaterial> m =
      LoadTlsMaterial({Pki() + "/ca.pem", Pki() + "/agent-t-001.pem", Pki() + "/agent-t-001.key"},
                      SystemClock().NowMs());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_THAT(m->cert.uris,
              ElementsAre("mamori://terminal/t-001", "mamori://group/osaka/suita/hoken"));
  EXPECT_EQ(m->cert.not_after_ms - m->cert.not_before_ms, 10LL * 24 * 3600 * 1000);
}

TEST_F(PkiCommandsTest, IssueServerAndAdmin) {
  Init();
  CtlResult r =
      Ctl({"pki", "issue", "server", "--dir", Pki(), "--id", "collector-1", "--dns", "localhost",
           "--dns", "collector.example.lg.jp", "--ip", "127.0.0.1", "--out", dir_.File("srv")});
  ASSERT_EQ(r.code, 0) << r.err;
  Result<CertInfo> server = InspectCertificate(Read(dir_.File("srv.pem")));
  ASSERT_TRUE(server.ok());
  EXPECT_THAT(server->uris, ElementsAre("mamori://collector/collector-1"));
  EXPECT_THAT(server->dns_names, ElementsAre("localhost", "collector.example.lg.jp"));
  EXPECT_THAT(server->ip_addresses, ElementsAre("127.0.0.1"));
  EXPECT_TRUE(VerifyCertificate(Read(Pki() + "/ca.pem"), Read(dir_.File("srv.pem")),
                                SystemClock().NowMs(), CertPurpose::kServer)
                  .ok());

  r = Ctl({"pki", "issue", "admin", "--dir", Pki(), "--id", "alice"});
  ASSERT_EQ(r.code, 0) << r.err;
  Result<CertInfo> admin = InspectCertificate(Read(Pki() + "/admin-alice.pem"));
  ASSERT_TRUE(admin.ok());
  EXPECT_THAT(admin->uris, ElementsAre("mamori://admin/alice"));
}

TEST_F(PkiCommandsTest, IssueRefusesToOverwrite) {
  Init();
  ASSERT_EQ(Ctl({"pki", "issue", "admin", "--dir", Pki(), "--id", "bob"}).code, 0);
  const std::string key = Read(Pki() + "/admin-bob.key");
  const CtlResult again = Ctl({"pki", "issue", "admin", "--dir", Pki(), "--id", "bob"});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr(Pki() + "/admin-bob.pem already exists"));
  EXPECT_EQ(Read(Pki() + "/admin-bob.key"), key);
  EXPECT_EQ(Ctl({"pki", "issue", "admin", "--dir", Pki(), "--id", "bob", "--force"}).code, 0);
  EXPECT_NE(Read(Pki() + "/admin-bob.key"), key);
}

TEST_F(PkiCommandsTest, IssueErrors) {
  // No CA yet: the error names the file.
  CtlResult r = Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "t1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(Pki() + "/ca.pem: cannot open: No such file or directory"));

  Init();
  r = Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "bad id"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("invalid terminal id \"bad id\""));

  r = Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "t1", "--group", "Osaka"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("invalid group"));

  r = Ctl({"pki", "issue", "server", "--dir", Pki(), "--id", "c", "--ip", "999.1.1.1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("invalid IP address"));

  // Usage errors.
  EXPECT_EQ(Ctl({"pki", "issue", "admin", "--dir", Pki(), "--id", "a", "--group", "g"}).code, 2);
  EXPECT_EQ(Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "a", "--dns", "x"}).code, 2);
  r = Ctl({"pki", "issue", "server", "--dir", Pki(), "--id", "c"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--dns"));
  EXPECT_EQ(Ctl({"pki", "issue", "printer", "--dir", Pki(), "--id", "a"}).code, 2);
  EXPECT_EQ(Ctl({"pki", "issue", "agent", "--id", "a"}).code, 2);
  EXPECT_EQ(Ctl({"pki", "issue", "agent", "--dir", Pki()}).code, 2);
  EXPECT_EQ(Ctl({"pki", "issue", "--dir", Pki(), "--id", "a"}).code, 2);
  EXPECT_EQ(Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "a", "--days", "x"}).code, 2);
  EXPECT_EQ(Ctl({"pki", "init"}).code, 2);

  // Nothing was written by the failed attempts.
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(Pki())) {
    files.push_back(e.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_THAT(files, ElementsAre("ca.key", "ca.pem"));
}

TEST_F(PkiCommandsTest, WarnsWhenCertificateOutlivesCa) {
  Init();  // 30-day CA
  const CtlResult r =
      Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "t1", "--group", "g", "--days", "31"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: the CA expires"));
  const CtlResult short_lived =
      Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "t2", "--group", "g", "--days", "5"});
  ASSERT_EQ(short_lived.code, 0);
  EXPECT_THAT(short_lived.err, IsEmpty());
}

TEST_F(PkiCommandsTest, AgentCertificateWithoutGroupIsWarnedAbout) {
  Init();
  const CtlResult r = Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "t1", "--days", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: no --group"));
}

TEST_F(PkiCommandsTest, DefaultLifetimesAreShortForClientsAndLongerForServers) {
  const CtlResult init = Ctl({"pki", "init", "--dir", Pki()});
  ASSERT_EQ(init.code, 0) << init.err;
  ASSERT_EQ(Ctl({"pki", "issue", "agent", "--dir", Pki(), "--id", "t1", "--group", "g"}).code, 0);
  ASSERT_EQ(Ctl({"pki", "issue", "admin", "--dir", Pki(), "--id", "a"}).code, 0);
  ASSERT_EQ(Ctl({"pki", "issue", "server", "--dir", Pki(), "--id", "c", "--dns", "x"}).code, 0);
  const auto days = [&](const std::string& name) {
    Result<CertInfo> info = InspectCertificate(Read(Pki() + "/" + name + ".pem"));
    return info.ok() ? (info->not_after_ms - info->not_before_ms) / (24LL * 3600 * 1000) : -1;
  };
  EXPECT_EQ(days("agent-t1"), 30);
  EXPECT_EQ(days("admin-a"), 30);
  EXPECT_EQ(days("server-c"), 397);
}

TEST_F(PkiCommandsTest, IntermediateMakesAnIssuingCaThatIssueUses) {
  const CtlResult init = Ctl({"pki", "init", "--dir", Pki()});
  ASSERT_EQ(init.code, 0) << init.err;
  const std::string issuing = dir_.File("issuing");
  const CtlResult r = Ctl({"pki", "intermediate", "--dir", Pki(), "--out", issuing});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Created issuing CA \"Mamori Issuing CA\""));
  EXPECT_THAT(r.out, HasSubstr("--issuer " + issuing));
  EXPECT_THAT(r.out, HasSubstr("offline"));
  EXPECT_EQ(ModeOf(issuing), 0700u);
  EXPECT_EQ(ModeOf(issuing + "/issuing-ca.key"), 0600u);
  Result<CertInfo> ca = InspectCertificate(Read(issuing + "/issuing-ca.pem"));
  ASSERT_TRUE(ca.ok());
  EXPECT_TRUE(ca->is_ca);
  EXPECT_EQ(ca->not_after_ms - ca->not_before_ms, 1095LL * 24 * 3600 * 1000);

  const CtlResult issued =
      Ctl({"pki", "issue", "agent", "--issuer", issuing, "--id", "t-7", "--group", "osaka"});
  ASSERT_EQ(issued.code, 0) << issued.err;
  EXPECT_THAT(issued.out, HasSubstr(issuing + "/issuing-ca.pem"));
  Result<std::vector<CertInfo>> chain = InspectCertificateChain(Read(issuing + "/agent-t-7.pem"));
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[1].common_name, "Mamori Issuing CA");
  Result<TlsMaterial> m =
      LoadTlsMaterial({Pki() + "/ca.pem", issuing + "/agent-t-7.pem", issuing + "/agent-t-7.key"},
                      SystemClock().NowMs());
  EXPECT_TRUE(m.ok()) << m.error().message;

  // No overwrite without --force; --force makes a new one.
  const std::string before = Read(issuing + "/issuing-ca.pem");
  const CtlResult again = Ctl({"pki", "intermediate", "--dir", Pki(), "--out", issuing});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("issuing-ca.pem already exists"));
  EXPECT_EQ(Read(issuing + "/issuing-ca.pem"), before);
  EXPECT_EQ(Ctl({"pki", "intermediate", "--dir", Pki(), "--out", issuing, "--force"}).code, 0);
  EXPECT_NE(Read(issuing + "/issuing-ca.pem"), before);
}

TEST_F(PkiCommandsTest, IntermediateErrors) {
  CtlResult r = Ctl({"pki", "intermediate", "--dir", Pki(), "--out", dir_.File("i")});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("ca.pem"));
  EXPECT_EQ(Ctl({"pki", "intermediate", "--out", dir_.File("i")}).code, 2);
  EXPECT_EQ(Ctl({"pki", "intermediate", "--dir", Pki()}).code, 2);
  Init();  // a 30-day root
  r = Ctl({"pki", "intermediate", "--dir", Pki(), "--out", dir_.File("i")});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("would outlive the root CA"));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("i")));
  r = Ctl({"pki", "issue", "agent", "--issuer", dir_.File("i"), "--id", "t", "--group", "g"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("pki intermediate"));
  EXPECT_EQ(
      Ctl({"pki", "issue", "agent", "--dir", Pki(), "--issuer", dir_.File("i"), "--id", "t"}).code,
      2);
}

TEST_F(PkiCommandsTest, PolicyKeyWritesAnEd25519PairWithAPrivateKey) {
  const CtlResult r = Ctl({"pki", "policy-key", "--dir", Pki()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ModeOf(Pki() + "/policy-signing.key"), 0600u);
  EXPECT_EQ(ModeOf(Pki()), 0700u);
  Result<PolicySigningKey> key = PolicySigningKey::LoadFile(Pki() + "/policy-signing.key");
  ASSERT_TRUE(key.ok()) << key.error().message;
  Result<PolicyPublicKey> pub = PolicyPublicKey::LoadFile(Pki() + "/policy-signing.pub");
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(pub->key_id(), key->key_id());
  EXPECT_THAT(r.out, HasSubstr(key->key_id()));
  EXPECT_THAT(r.out, HasSubstr(Pki() + "/policy-signing.pub"));
}

TEST_F(PkiCommandsTest, PolicyKeyRefusesToOverwriteUnlessForced) {
  ASSERT_EQ(Ctl({"pki", "policy-key", "--dir", Pki()}).code, 0);
  const std::string before = Read(Pki() + "/policy-signing.key");
  const CtlResult again = Ctl({"pki", "policy-key", "--dir", Pki()});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr(Pki() + "/policy-signing.key already exists"));
  EXPECT_THAT(again.err, HasSubstr("--force"));
  EXPECT_EQ(Read(Pki() + "/policy-signing.key"), before);

  const CtlResult forced = Ctl({"pki", "policy-key", "--dir", Pki(), "--force"});
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(Read(Pki() + "/policy-signing.key"), before);
}

TEST_F(PkiCommandsTest, PolicyKeyUsageAndHelp) {
  const CtlResult no_dir = Ctl({"pki", "policy-key"});
  EXPECT_EQ(no_dir.code, 2);
  EXPECT_THAT(no_dir.err, HasSubstr("--dir DIR is required"));
  const CtlResult extra = Ctl({"pki", "policy-key", "--dir", Pki(), "surplus"});
  EXPECT_EQ(extra.code, 2);
  const CtlResult help = Ctl({"pki", "policy-key", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("policy.signing_key_file"));
  EXPECT_THAT(help.out, HasSubstr("--force"));
}

}  // namespace
}  // namespace mamori::ctl
