#include "common/policy/unlock_code.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>

#include "common/base/jst_time.h"
#include "common/device/device.h"

namespace mamori {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::string_view kMacDomain = "mamori-unlock-v1";
constexpr std::string_view kScopeDomain = "mamori-unlock-scope-v1";
constexpr size_t kDataSymbols = 16;
constexpr size_t kGroup = 6;
// Anything longer than a code with generous spacing is not a code; bounds
// the work done on hostile input.
constexpr size_t kMaxInput = 64;
constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kMaxExpiryMinutes = (1LL << 24) - 1;

// GF(32) with the primitive polynomial x^5 + x^2 + 1.
struct Gf32 {
  std::array<uint8_t, 62> exp{};
  std::array<int, 32> log{};
  constexpr Gf32() {
    int x = 1;
    for (int i = 0; i < 31; ++i) {
      exp[i] = static_cast<uint8_t>(x);
      exp[i + 31] = static_cast<uint8_t>(x);
      log[x] = i;
      x <<= 1;
      if (x & 0x20) x ^= 0x25;
    }
    log[0] = -1;
  }
  constexpr uint8_t Mul(uint8_t a, uint8_t b) const {
    if (a == 0 || b == 0) return 0;
    return exp[(log[a] + log[b]) % 31];
  }
  constexpr uint8_t Div(uint8_t a, uint8_t b) const {  // b != 0
    if (a == 0) return 0;
    return exp[(log[a] - log[b] + 31) % 31];
  }
  constexpr uint8_t Pow(size_t i) const { return exp[i % 31]; }
};
constexpr Gf32 kGf;

int SymbolValue(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (c == 'O') return 0;
  if (c == 'I' || c == 'L') return 1;
  const size_t pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// Syndromes of a full code word: both zero when the check symbols agree.
std::pair<uint8_t, uint8_t> Syndromes(const std::array<uint8_t, kUnlockCodeSymbols>& s) {
  uint8_t s0 = 0, s1 = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    s0 ^= s[i];
    s1 ^= kGf.Mul(kGf.Pow(i), s[i]);
  }
  return {s0, s1};
}

void AddCheckSymbols(std::array<uint8_t, kUnlockCodeSymbols>& s) {
  uint8_t a = 0, b = 0;
  for (size_t i = 0; i < kDataSymbols; ++i) {
    a ^= s[i];
    b ^= kGf.Mul(kGf.Pow(i), s[i]);
  }
  // c16 + c17 = a and a^16 c16 + a^17 c17 = b.
  const uint8_t p16 = kGf.Pow(16), p17 = kGf.Pow(17);
  const uint8_t c16 = kGf.Div(b ^ kGf.Mul(p17, a), p16 ^ p17);
  s[16] = c16;
  s[17] = a ^ c16;
}

// The 80 data bits as 10 bytes, most significant first.
std::array<uint8_t, 10> PackBits(const UnlockFields& f) {
  std::array<uint8_t, 10> out{};
  size_t bit = 0;
  auto put = [&](uint64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, ++bit) {
      if ((value >> i) & 1) out[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
  };
  put(static_cast<uint64_t>(f.version), 2);
  put(static_cast<uint64_t>((f.expiry_ms - kUnlockEpochMs) / kMinuteMs), 24);
  put(f.nonce, 8);
  put(f.scope_tag, 5);
  put(f.mac, kUnlockMacBits);
  return out;
}

UnlockFields UnpackBits(const std::array<uint8_t, 10>& in) {
  size_t bit = 0;
  auto get = [&](int width) {
    uint64_t v = 0;
    for (int i = 0; i < width; ++i, ++bit) v = (v << 1) | ((in[bit / 8] >> (7 - bit % 8)) & 1);
    return v;
  };
  UnlockFields f;
  f.version = static_cast<int>(get(2));
  f.expiry_ms = kUnlockEpochMs + static_cast<int64_t>(get(24)) * kMinuteMs;
  f.nonce = static_cast<uint32_t>(get(8));
  f.scope_tag = static_cast<uint32_t>(get(5));
  f.mac = get(kUnlockMacBits);
  return f;
}

std::array<uint8_t, kUnlockCodeSymbols> ToSymbols(const UnlockFields& f) {
  const std::array<uint8_t, 10> bytes = PackBits(f);
  std::array<uint8_t, kUnlockCodeSymbols> s{};
  for (size_t i = 0; i < kDataSymbols; ++i) {
    uint8_t v = 0;
    for (size_t b = i * 5; b < i * 5 + 5; ++b)
      v = static_cast<uint8_t>((v << 1) | ((bytes[b / 8] >> (7 - b % 8)) & 1));
    s[i] = v;
  }
  AddCheckSymbols(s);
  return s;
}

std::string Sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

UnlockError Refuse(UnlockRefusal refusal, std::string message) {
  return UnlockError{refusal, std::move(message)};
}

std::string DescribeDevice(const UnlockDevice& d) {
  return FormatVidPid(d.vendor_id, d.product_id) + " serial '" + d.serial + "'";
}

}  // namespace

std::string_view UnlockRefusalName(UnlockRefusal refusal) {
  switch (refusal) {
    case UnlockRefusal::kNone:
      return "none";
    case UnlockRefusal::kWrongLength:
      return "wrong_length";
    case UnlockRefusal::kBadCharacter:
      return "bad_character";
    case UnlockRefusal::kTypo:
      return "typo";
    case UnlockRefusal::kUnsupportedVersion:
      return "unsupported_version";
    case UnlockRefusal::kOtherDeployment:
      return "other_deployment";
    case UnlockRefusal::kOtherTerminal:
      return "other_terminal";
    case UnlockRefusal::kOtherDevice:
      return "other_device";
    case UnlockRefusal::kExpired:
      return "expired";
    case UnlockRefusal::kTooLong:
      return "validity_too_long";
    case UnlockRefusal::kReused:
      return "reused";
    case UnlockRefusal::kLockedOut:
      return "locked_out";
    case UnlockRefusal::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

uint32_t UnlockScopeTag(std::string_view deployment_id, std::string_view terminal_id) {
  std::string d(kScopeDomain);
  d.push_back('\0');
  d.append(deployment_id);
  const uint8_t dep = static_cast<uint8_t>(Sha256(d)[0]) >> 6;
  d.push_back('\0');
  d.append(terminal_id);
  const uint8_t term = static_cast<uint8_t>(Sha256(d)[0]) >> 5;
  return (static_cast<uint32_t>(dep) << 3) | term;
}

uint64_t UnlockMac(std::string_view key, const UnlockFields& fields, const UnlockDevice& device) {
  UnlockFields header = fields;
  header.mac = 0;
  const std::array<uint8_t, 10> packed = PackBits(header);
  std::string msg(kMacDomain);
  msg.push_back('\0');
  msg.append(reinterpret_cast<const char*>(packed.data()), 5);  // the 39 header bits, zero-padded
  msg.push_back(static_cast<char>(device.vendor_id >> 8));
  msg.push_back(static_cast<char>(device.vendor_id & 0xff));
  msg.push_back(static_cast<char>(device.product_id >> 8));
  msg.push_back(static_cast<char>(device.product_id & 0xff));
  const uint32_t n = static_cast<uint32_t>(device.serial.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    msg.push_back(static_cast<char>((n >> shift) & 0xff));
  msg.append(device.serial);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &md_len);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | md[i];
  return v >> (64 - kUnlockMacBits);
}

Result<std::string> IssueUnlockCode(const UnlockScope& scope, const UnlockDevice& device,
                                    int64_t expiry_ms, uint32_t nonce) {
  if (scope.key.size() != 32) {
    return MakeError(ErrorCode::kInvalidArgument, "unlock key must be 32 bytes");
  }
  if (device.serial.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "an unlock code needs the device's serial number (a device without one "
                     "cannot be told apart from others of its model)");
  }
  if (nonce > kUnlockMaxNonce) {
    return MakeError(ErrorCode::kInvalidArgument, "unlock nonce must be 0..255");
  }
  const int64_t minutes =
      expiry_ms >= kUnlockEpochMs ? (expiry_ms - kUnlockEpochMs) / kMinuteMs : -1;
  if (minutes < 0 || minutes > kMaxExpiryMinutes) {
    return MakeError(ErrorCode::kInvalidArgument, "unlock expiry out of range");
  }
  UnlockFields f;
  f.version = kUnlockCodeVersion;
  f.expiry_ms = kUnlockEpochMs + minutes * kMinuteMs;
  f.nonce = nonce;
  f.scope_tag = UnlockScopeTag(scope.deployment_id, scope.terminal_id);
  f.mac = UnlockMac(scope.key, f, device);
  return FormatUnlockCode(f);
}

std::string FormatUnlockCode(const UnlockFields& fields) {
  const auto s = ToSymbols(fields);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && i % kGroup == 0) out.push_back('-');
    out.push_back(kAlphabet[s[i]]);
  }
  return out;
}

UnlockParse ParseUnlockCode(std::string_view text) {
  UnlockParse result;
  if (text.size() > kMaxInput) {
    result.error = Refuse(UnlockRefusal::kWrongLength,
                          "the code is too long: an unlock code has 18 characters "
                          "(XXXXXX-XXXXXX-XXXXXX)");
    return result;
  }
  std::array<uint8_t, kUnlockCodeSymbols> s{};
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '-' || c == ' ') continue;
    const int v = SymbolValue(c);
    if (v < 0) {
      const bool printable =
          static_cast<unsigned char>(c) >= 0x21 && static_cast<unsigned char>(c) < 0x7f;
      result.error =
          Refuse(UnlockRefusal::kBadCharacter,
                 "character " + std::to_string(n + 1) + " of the code (" +
                     (printable ? "'" + std::string(1, c) + "'"
                                : "byte " + std::to_string(static_cast<unsigned char>(c))) +
                     ") is not used in unlock codes (digits and letters except U)");
      return result;
    }
    if (n < s.size()) s[n] = static_cast<uint8_t>(v);
    ++n;
  }
  if (n != kUnlockCodeSymbols) {
    result.error = Refuse(UnlockRefusal::kWrongLength,
                          "the code has " + std::to_string(n) +
                              " characters; an unlock code has 18 (XXXXXX-XXXXXX-XXXXXX)");
    return result;
  }
  const auto [s0, s1] = Syndromes(s);
  if (s0 != 0 || s1 != 0) {
    // One wrong symbol e at position i gives s0 = e, s1 = a^i e.
    if (s0 != 0 && s1 != 0) {
      const size_t pos = static_cast<size_t>((kGf.log[s1] - kGf.log[s0] + 31) % 31);
      if (pos < kUnlockCodeSymbols) {
        result.error =
            Refuse(UnlockRefusal::kTypo, "typo at character " + std::to_string(pos + 1) +
                                             " (group " + std::to_string(pos / kGroup + 1) +
                                             ", character " + std::to_string(pos % kGroup + 1) +
                                             "): check that character and type the code again");
        return result;
      }
    }
    result.error = Refuse(UnlockRefusal::kTypo,
                          "the code does not check out: more than one character is wrong; "
                          "read the whole code again");
    return result;
  }
  std::array<uint8_t, 10> bytes{};
  for (size_t i = 0; i < kDataSymbols; ++i) {
    for (int b = 0; b < 5; ++b) {
      const size_t bit = i * 5 + static_cast<size_t>(b);
      if ((s[i] >> (4 - b)) & 1) bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
  }
  result.fields = UnpackBits(bytes);
  if (result.fields.version != kUnlockCodeVersion) {
    result.error = Refuse(UnlockRefusal::kUnsupportedVersion,
                          "the code is of format version " + std::to_string(result.fields.version) +
                              ", which this agent does not know");
  }
  return result;
}

namespace {
constexpr std::string_view kAcceptedPrefix = "unlock code '";
constexpr std::string_view kAcceptedMiddle = "' accepted: ";
constexpr std::string_view kTypedBy = "; typed by ";
}  // namespace

std::string FormatUnlockAcceptedDetail(std::string_view code, std::string_view device,
                                       std::string_view until, std::string_view requester) {
  std::string out(kAcceptedPrefix);
  out.append(code).append(kAcceptedMiddle).append(device).append(" allowed until ");
  out.append(until).append(kTypedBy).append(requester);
  return out;
}

std::optional<UnlockUseReport> ParseUnlockAcceptedDetail(std::string_view detail) {
  if (detail.substr(0, kAcceptedPrefix.size()) != kAcceptedPrefix) return std::nullopt;
  detail.remove_prefix(kAcceptedPrefix.size());
  const std::size_t end = detail.find(kAcceptedMiddle);
  if (end == std::string_view::npos || end > kMaxInput) return std::nullopt;
  const UnlockParse parsed = ParseUnlockCode(detail.substr(0, end));
  if (!parsed.ok()) return std::nullopt;
  UnlockUseReport report;
  report.code = FormatUnlockCode(parsed.fields);
  if (const std::size_t by = detail.rfind(kTypedBy); by != std::string_view::npos) {
    report.requester = std::string(detail.substr(by + kTypedBy.size(), 128));
  }
  return report;
}

UnlockVerify VerifyUnlockCode(const UnlockFields& fields, const UnlockScope& scope,
                              const std::vector<UnlockDevice>& candidates, int64_t now_ms,
                              int64_t max_skew_ms) {
  UnlockVerify result;
  const uint32_t mine = UnlockScopeTag(scope.deployment_id, scope.terminal_id);
  if ((fields.scope_tag >> 3) != (mine >> 3)) {
    result.error = Refuse(UnlockRefusal::kOtherDeployment,
                          "the code was not issued by this deployment's collector");
    return result;
  }
  if (fields.scope_tag != mine) {
    result.error =
        Refuse(UnlockRefusal::kOtherTerminal,
               "the code was issued for another terminal, not '" + scope.terminal_id + "'");
    return result;
  }
  bool found = false;
  for (size_t i = 0; i < candidates.size() && !found; ++i) {
    if (candidates[i].serial.empty()) continue;  // never issued for a device without serial
    if (UnlockMac(scope.key, fields, candidates[i]) == fields.mac) {
      result.device_index = i;
      found = true;
    }
  }
  if (!found) {
    std::string message =
        "the code does not match any device blocked on this terminal (connected: ";
    bool first = true;
    for (const UnlockDevice& d : candidates) {
      if (d.serial.empty()) continue;
      message += (first ? "" : ", ") + DescribeDevice(d);
      first = false;
    }
    if (first) message += "none";
    message += "): it was issued for another device, or another terminal, or it is not genuine";
    result.error = Refuse(UnlockRefusal::kOtherDevice, std::move(message));
    return result;
  }
  if (fields.expiry_ms <= now_ms) {
    result.error =
        Refuse(UnlockRefusal::kExpired, "the code expired at " + JstIso8601(fields.expiry_ms) +
                                            " (this terminal's clock: " + JstIso8601(now_ms) + ")");
    return result;
  }
  if (fields.expiry_ms - now_ms > kUnlockMaxValidityMs + max_skew_ms) {
    result.error = Refuse(UnlockRefusal::kTooLong,
                          "the code is valid until " + JstIso8601(fields.expiry_ms) +
                              ", more than 24 hours ahead of this terminal's clock (" +
                              JstIso8601(now_ms) + "): check the terminal's clock");
    return result;
  }
  return result;
}

}  // namespace mamori
