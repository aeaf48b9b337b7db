#include "agent/storage/file_identity_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "common/base/file_io.h"
#include "common/crypto/ca_pin.h"
#include "common/crypto/pki.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class FileIdentityStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = *CreateCa("Root", 365);
    pin_ = *CertificateFingerprint(root_.cert_pem);
    first_ = Issue("t-1");
    second_ = Issue("t-1");
  }
  KeyAndCert Issue(const std::string& id) {
    IssueRequest req;
    req.kind = CertKind::kTerminal;
    req.id = id;
    req.validity_days = 30;
    return *IssueCertificate(root_, req);
  }
  IssuedCertificate Issued(const KeyAndCert& kc) {
    IssuedCertificate c;
    c.certificate_pem = kc.cert_pem;
    c.ca_pem = root_.cert_pem;
    return c;
  }
  std::string Path(const std::string& rel) { return dir_.path() + "/identity/" + rel; }
  void Enroll(FileIdentityStore& store, const KeyAndCert& kc) {
    ASSERT_TRUE(store.SavePendingKey(kc.key_pem).ok());
    ASSERT_TRUE(store.SavePendingCertificate(Issued(kc)).ok());
    ASSERT_TRUE(store.Promote().ok());
  }

  testing::TempDir dir_;
  KeyAndCert root_, first_, second_;
  std::string pin_;
};

TEST_F(FileIdentityStoreTest, EmptyStoreHasNoIdentity) {
  FileIdentityStore store(dir_.path() + "/identity", pin_);
  auto loaded = store.Load(Now());
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(FileIdentityStoreTest, EnrolledIdentityLoadsWithItsKeyOwnerOnly) {
  FileIdentityStore store(dir_.path() + "/identity", pin_);
  Enroll(store, first_);
  auto loaded = store.Load(Now());
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->terminal_id, "t-1");
  EXPECT_EQ((*loaded)->key_pem, first_.key_pem);
  struct stat st {};
  ASSERT_EQ(stat(Path("key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(Path("pending")));
}

TEST_F(FileIdentityStoreTest, CertificateForAnotherKeyIsRefused) {
  FileIdentityStore store(dir_.path() + "/identity", pin_);
  ASSERT_TRUE(store.SavePendingKey(first_.key_pem).ok());
  auto r = store.SavePendingCertificate(Issued(second_));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("does not match"), std::string::npos) << r.error().message;
}

TEST_F(FileIdentityStoreTest, AnswerNamingAnotherRootIsRefused) {
  FileIdentityStore store(dir_.path() + "/identity", pin_);
  KeyAndCert other_root = *CreateCa("Other", 365);
  IssueRequest req;
  req.id = "t-1";
  KeyAndCert foreign = *IssueCertificate(other_root, req);
  ASSERT_TRUE(store.SavePendingKey(foreign.key_pem).ok());
  IssuedCertificate c;
  c.certificate_pem = foreign.cert_pem;
  c.ca_pem = other_root.cert_pem;
  auto r = store.SavePendingCertificate(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not the pinned"), std::string::npos) << r.error().message;
}

TEST_F(FileIdentityStoreTest, RenewalKeepsTheOldPairUntilPromoted) {
  FileIdentityStore store(dir_.path() + "/identity", pin_);
  Enroll(store, first_);
  ASSERT_TRUE(store.SavePendingKey(second_.key_pem).ok());
  ASSERT_TRUE(store.SavePendingCertificate(Issued(second_)).ok());
  EXPECT_EQ((*store.Load(Now()))->key_pem, first_.key_pem);
  ASSERT_TRUE(store.Promote().ok());
  EXPECT_EQ((*store.Load(Now()))->key_pem, second_.key_pem);
}

TEST_F(FileIdentityStoreTest, CrashBetweenCertificateAndKeyLoadsThePendingPair) {
  FileIdentityStore store(dir_.path() + "/identity", pin_);
  Enroll(store, first_);
  ASSERT_TRUE(store.SavePendingKey(second_.key_pem).ok());
  ASSERT_TRUE(store.SavePendingCertificate(Issued(second_)).ok());
  // What Promote leaves when killed after writing the certificate.
  ASSERT_TRUE(WriteFileAtomic(Path("cert.pem"), second_.cert_pem).ok());
  auto loaded = store.Load(Now());
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->key_pem, second_.key_pem);
}

TEST_F(FileIdentityStoreTest, CrashBeforeTheCertificateArrivedKeepsTheCurrentPair) {
  FileIdentityStore store(dir_.path() + "/identity", pin_);
  Enroll(store, first_);
  ASSERT_TRUE(store.SavePendingKey(second_.key_pem).ok());
  auto loaded = store.Load(Now());
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->key_pem, first_.key_pem);
}

TEST_F(FileIdentityStoreTest, ExpiredIdentityIsNotUsed) {
  FileIdentityStore store(dir_.path() + "/identity", pin_);
  Enroll(store, first_);
  auto loaded = store.Load(Now() + 60LL * 24 * 3600 * 1000);
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());
}

}  // namespace
}  // namespace mamori
