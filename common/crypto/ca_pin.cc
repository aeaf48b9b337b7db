#include "common/crypto/ca_pin.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/base/hex.h"
#include "common/crypto/pki.h"

namespace mamori {
namespace {

constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
// A server's chain is a handful of certificates; anything longer is not one.
constexpr std::size_t kMaxChainCertificates = 8;

// The PEM blocks of `pem`, in order.
std::vector<std::string> SplitPem(std::string_view pem) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (out.size() <= kMaxChainCertificates) {
    const std::size_t begin = pem.find(kBegin, pos);
    if (begin == std::string_view::npos) break;
    const std::size_t end = pem.find(kEnd, begin);
    if (end == std::string_view::npos) break;
    out.emplace_back(pem.substr(begin, end + kEnd.size() - begin));
    out.back() += "\n";
    pos = end + kEnd.size();
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool NamesHost(const CertInfo& leaf, std::string_view host) {
  std::string h = Lower(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  for (const std::string& ip : leaf.ip_addresses) {
    if (Lower(ip) == h) return true;
  }
  for (const std::string& dns : leaf.dns_names) {
    if (Lower(dns) == h) return true;
  }
  return false;
}

}  // namespace

Result<std::string> ParseCaFingerprint(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c == ':' || c == ' ' || c == '\t') continue;
    if (HexDigit(c) < 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "a SHA-256 fingerprint is 64 hex digits (colons and spaces allowed); "
                       "found the character '" +
                           std::string(1, c) + "'");
    }
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a SHA-256 fingerprint is 64 hex digits (colons and spaces allowed); found " +
                         std::to_string(hex.size()));
  }
  return hex;
}

Result<std::string> CertificateFingerprint(std::string_view pem) {
  Result<CertInfo> info = InspectCertificate(pem);
  if (!info.ok()) return info.error();
  return info->sha256_fingerprint;
}

std::string FormatFingerprint(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    if (i > 0 && i % 2 == 0) out += ':';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
  }
  return out;
}

Result<std::string> VerifyChainAgainstPin(std::string_view chain_pem, std::string_view pin_hex,
                                          std::string_view host, int64_t now_ms) {
  const std::vector<std::string> certs = SplitPem(chain_pem);
  if (certs.empty()) {
    return MakeError(ErrorCode::kUnauthenticated, "the server presented no certificate");
  }
  if (certs.size() > kMaxChainCertificates) {
    return MakeError(ErrorCode::kUnauthenticated, "the server presented more than " +
                                                      std::to_string(kMaxChainCertificates) +
                                                      " certificates");
  }
  std::string presented;
  const std::string* anchor = nullptr;
  std::vector<CertInfo> infos;
  for (const std::string& pem : certs) {
    Result<CertInfo> info = InspectCertificate(pem);
    if (!info.ok()) {
      return MakeError(ErrorCode::kUnauthenticated,
                       "the server presented an unreadable certificate: " + info.error().message);
    }
    if (!presented.empty()) presented += "; ";
    presented += "'" + info->subject + "' " + FormatFingerprint(info->sha256_fingerprint);
    if (info->sha256_fingerprint == pin_hex && info->is_ca && anchor == nullptr) anchor = &pem;
    infos.push_back(std::move(*info));
  }
  if (anchor == nullptr) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "no CA certificate the server presented has the pinned fingerprint " +
                         FormatFingerprint(pin_hex) + " (presented: " + presented +
                         "); check enrollment.ca_fingerprint, and that the collector sends its "
                         "chain up to the root");
  }
  if (Status s = VerifyCertificate(*anchor, chain_pem, now_ms, CertPurpose::kServer); !s.ok()) {
    return MakeError(
        ErrorCode::kUnauthenticated,
        "the server's certificate does not chain to the pinned CA: " + s.error().message);
  }
  if (!NamesHost(infos.front(), host)) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "the server's certificate '" + infos.front().subject + "' does not name '" +
                         std::string(host) +
                         "' (set collector.server_name when dialling by "
                         "another name)");
  }
  return *anchor;
}

}  // namespace mamori
