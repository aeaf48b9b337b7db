#include "common/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "common/identity.h"

namespace mamori {
namespace {

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now so the caller sees close() errors (NFS reports write errors there).
  int Close() {
    const int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

Error IoError(const std::string& path, std::string_view what, int err) {
  return MakeError(ErrorCode::kIo, path + ": " + std::string(what) + ": " + std::strerror(err));
}

std::string ParentDir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// "tls.cert_file /etc/mamori/agent.pem"
std::string Field(std::string_view field, const std::string& path) {
  return std::string(field) + " " + path;
}

Result<std::string> ReadField(std::string_view field, const std::string& path) {
  if (path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": not set");
  }
  Result<std::string> data = ReadFileToString(path);
  if (!data) {
    return MakeError(data.error().code, std::string(field) + " " + data.error().message);
  }
  return data;
}

// The purpose a certificate is meant for, from its identity URI: a collector
// serves, everyone else (terminals, admins) is a client.
CertPurpose PurposeOf(const CertInfo& info) {
  for (const std::string& uri : info.uris) {
    std::optional<PeerIdentity> id = ParseIdentityUri(uri);
    if (id && id->role == PeerRole::kCollector) return CertPurpose::kServer;
  }
  return CertPurpose::kClient;
}

}  // namespace

Result<TlsMaterial> LoadTlsMaterial(const TlsFiles& files, int64_t now_ms) {
  TlsMaterial m;
  {
    Result<std::string> ca = ReadField("tls.ca_file", files.ca_file);
    if (!ca) return ca.error();
    Result<std::string> cert = ReadField("tls.cert_file", files.cert_file);
    if (!cert) return cert.error();
    Result<std::string> key = ReadField("tls.key_file", files.key_file);
    if (!key) return key.error();
    m.ca_pem = std::move(*ca);
    m.cert_pem = std::move(*cert);
    m.key_pem = std::move(*key);
  }
  const std::string ca_field = Field("tls.ca_file", files.ca_file);
  const std::string cert_field = Field("tls.cert_file", files.cert_file);
  const std::string key_field = Field("tls.key_file", files.key_file);

  Result<CertInfo> ca_info = InspectCertificate(m.ca_pem);
  if (!ca_info)
    return MakeError(ErrorCode::kInvalidArgument, ca_field + ": " + ca_info.error().message);
  if (!ca_info->is_ca) {
    return MakeError(ErrorCode::kInvalidArgument,
                     ca_field + ": not a CA certificate (subject " + ca_info->subject + ")");
  }
  Result<CertInfo> cert_info = InspectCertificate(m.cert_pem);
  if (!cert_info) {
    return MakeError(ErrorCode::kInvalidArgument, cert_field + ": " + cert_info.error().message);
  }
  m.cert = std::move(*cert_info);

  if (Status s = CheckKeyMatchesCertificate(m.key_pem, m.cert_pem); !s) {
    if (s.error().message.find("does not match") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       key_field + ": does not match the certificate in " + cert_field);
    }
    return MakeError(ErrorCode::kInvalidArgument, key_field + ": " + s.error().message);
  }

  // Checked here rather than left to the chain verification so the message
  // names the date, which is what the person fixing it needs.
  if (now_ms > m.cert.not_after_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     cert_field + ": certificate expired on " + FormatUtc(m.cert.not_after_ms));
  }
  if (now_ms < m.cert.not_before_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     cert_field + ": certificate not valid before " +
                         FormatUtc(m.cert.not_before_ms) + " (check the system clock)");
  }
  if (now_ms > ca_info->not_after_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     ca_field + ": CA certificate expired on " + FormatUtc(ca_info->not_after_ms));
  }

  if (Status s = VerifyCertificate(m.ca_pem, m.cert_pem, now_ms, PurposeOf(m.cert)); !s) {
    // pki.h promises this phrase for every "wrong issuer" outcome.
    if (s.error().message.find("not issued by this CA") != std::string::npos) {
      return MakeError(
          ErrorCode::kFailedPrecondition,
          cert_field + ": not issued by the CA in " + ca_field + " (" + s.error().message + ")");
    }
    return MakeError(ErrorCode::kFailedPrecondition, cert_field + ": " + s.error().message);
  }
  return m;
}

Result<std::string> ReadFileToString(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return IoError(path, "cannot open", errno);
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(path, "cannot read", errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
  const std::string dir = ParentDir(path);
  std::string tmp = path + ".tmp.XXXXXX";
  // mkstemp creates the file 0600, so a private key is never readable by
  // others, not even between creation and the fchmod below.
  ScopedFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return IoError(path, "cannot create temporary file in " + dir, errno);

  auto fail = [&](std::string_view what, int err) -> Status {
    fd.Close();
    ::unlink(tmp.c_str());
    return IoError(path, what, err);
  };

  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0)
    return fail("cannot set permissions", errno);
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write", errno);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("cannot sync", errno);
  if (fd.Close() != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError(path, "cannot write", err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError(path, "cannot rename temporary file into place", err);
  }
  // The rename is durable only once the directory entry is.
  ScopedFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return IoError(dir, "cannot open directory to sync", errno);
  if (::fsync(dir_fd.get()) != 0) return IoError(dir, "cannot sync directory", errno);
  return Status::Ok();
}

}  // namespace mamori
