#include "common/crypto/credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace mamori {
namespace {

using ::mamori::testing::TempDir;
using ::mamori::testing::TestPki;
using ::mamori::testing::TlsPaths;
using ::testing::HasSubstr;
using ::testing::StartsWith;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TlsFiles Files(const TlsPaths& p) { return TlsFiles{p.ca, p.cert, p.key}; }

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class CredentialsTest : public ::testing::Test {
 protected:
  TestPki pki_;
};

TEST_F(CredentialsTest, LoadsValidMaterial) {
  const TlsPaths t = pki_.IssueTerminal("t-001", "osaka/suita");
  Result<TlsMaterial> m = LoadTlsMaterial(Files(t), NowMs());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->cert.common_name, "t-001");
  EXPECT_THAT(m->ca_pem, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(m->key_pem, HasSubstr("PRIVATE KEY"));
  EXPECT_EQ(m->cert.uris.size(), 2u);

  Result<TlsMaterial> server = LoadTlsMaterial(Files(pki_.Server()), NowMs());
  ASSERT_TRUE(server.ok()) << server.error().message;
  EXPECT_EQ(server->cert.dns_names.size(), 1u);
  EXPECT_TRUE(LoadTlsMaterial(Files(pki_.Admin()), NowMs()).ok());
}

TEST_F(CredentialsTest, MissingFileNamesFieldAndPath) {
  TlsPaths t = pki_.IssueTerminal("t1");
  t.cert = pki_.dir() + "/missing.pem";
  Result<TlsMaterial> m = LoadTlsMaterial(Files(t), NowMs());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message,
            "tls.cert_file " + t.cert + ": cannot open: No such file or directory");
  EXPECT_EQ(m.error().code, ErrorCode::kIo);

  TlsFiles unset = Files(pki_.Admin());
  unset.key_file.clear();
  EXPECT_EQ(LoadTlsMaterial(unset, NowMs()).error().message, "tls.key_file: not set");
}

TEST_F(CredentialsTest, GarbageFilesNamed) {
  TempDir dir;
  TlsPaths t = pki_.IssueTerminal("t1");
  t.cert = dir.Write("cert.pem", "not a certificate");
  Result<TlsMaterial> m = LoadTlsMaterial(Files(t), NowMs());
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, StartsWith("tls.cert_file " + t.cert + ": "));

  t = pki_.IssueTerminal("t1");
  t.key = dir.Write("key.pem", "junk");
  m = LoadTlsMaterial(Files(t), NowMs());
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, StartsWith("tls.key_file " + t.key + ": "));

  t = pki_.IssueTerminal("t1");
  t.ca = t.cert;  // a leaf where the CA belongs
  m = LoadTlsMaterial(Files(t), NowMs());
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, HasSubstr("tls.ca_file " + t.cert + ": not a CA certificate"));
}

TEST_F(CredentialsTest, KeyMismatchDetected) {
  const TlsPaths a = pki_.IssueTerminal("a");
  const TlsPaths b = pki_.IssueTerminal("b");
  Result<TlsMaterial> m = LoadTlsMaterial(TlsFiles{a.ca, a.cert, b.key}, NowMs());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message, "tls.key_file " + b.key +
                                   ": does not match the certificate in tls.cert_file " + a.cert);
}

TEST_F(CredentialsTest, ExpiredCertificateNamesDate) {
  const TlsPaths t = pki_.IssueExpiredTerminal("t1");
  Result<TlsMaterial> m = LoadTlsMaterial(Files(t), NowMs());
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message,
              StartsWith("tls.cert_file " + t.cert + ": certificate expired on "));
  EXPECT_THAT(m.error().message, ::testing::MatchesRegex(".*expired on [0-9-]+T[0-9:]+Z$"));
}

TEST_F(CredentialsTest, NotYetValidUsesInjectedClock) {
  const TlsPaths t = pki_.IssueTerminal("t1");
  Result<TlsMaterial> m = LoadTlsMaterial(Files(t), NowMs() - 24LL * 3600 * 1000);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, HasSubstr("not valid before"));
}

TEST_F(CredentialsTest, ForeignCertificateNamesCaFile) {
  const TlsPaths t = pki_.IssueFromOtherCa("t1");
  Result<TlsMaterial> m = LoadTlsMaterial(Files(t), NowMs());
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, StartsWith("tls.cert_file " + t.cert +
                                            ": not issued by the CA in tls.ca_file " + t.ca));
}

TEST(ReadFileTest, ReadsAndReportsErrors) {
  TempDir dir;
  const std::string path = dir.Write("f", std::string("a\0b", 3));
  Result<std::string> data = ReadFileToString(path);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, std::string("a\0b", 3));

  Result<std::string> missing = ReadFileToString(dir.File("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, dir.File("nope") + ": cannot open: No such file or directory");

  Result<std::string> is_dir = ReadFileToString(dir.path());
  ASSERT_FALSE(is_dir.ok());
  EXPECT_THAT(is_dir.error().message, HasSubstr("Is a directory"));
}

TEST(WriteFileAtomicTest, WritesWithModeAndReplaces) {
  TempDir dir;
  const std::string path = dir.File("key.pem");
  ASSERT_TRUE(WriteFileAtomic(path, "first", 0600).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(*ReadFileToString(path), "first");
  ASSERT_TRUE(WriteFileAtomic(path, "second", 0644).ok());
  EXPECT_EQ(ModeOf(path), 0644u);
  EXPECT_EQ(*ReadFileToString(path), "second");

  // Default mode, and no temporary files left behind.
  ASSERT_TRUE(WriteFileAtomic(dir.File("plain"), "x").ok());
  EXPECT_EQ(ModeOf(dir.File("plain")), 0644u);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 2);
}

TEST(WriteFileAtomicTest, ErrorNamesPath) {
  TempDir dir;
  const std::string path = dir.File("no/such/dir/file");
  Status s = WriteFileAtomic(path, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, StartsWith(path + ": "));
  EXPECT_THAT(s.error().message, HasSubstr("No such file or directory"));
}

TEST(TempDirTest, RemovedOnDestruction) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    dir.Write("a", "b");
    EXPECT_TRUE(std::filesystem::is_directory(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace mamori
