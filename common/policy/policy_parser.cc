// Policy documents.
//
//   name: osaka-hoken-standard          # required, 1..128 characters
//   description: 保険課の標準ポリシー     # optional
//   defaults:                           # optional
//     storage: block                    # allow | read_only | block; default block
//     other: allow                      # devices without storage; default allow
//     network: block                    # per-class defaults, allow | block:
//     serial: block                     #   network, serial, bluetooth, wifi,
//     bluetooth: block                  #   wireless block; smart_card,
//     wifi: block                       #   biometric allow, unless set here;
//     smart_card: allow                 #   printers follow `other`
//   registered_media:                   # the media ledger (外部記録媒体管理台帳)
//     - serial: "4C530001231120115142"  # required
//       vid_pid: "0781:5581"            # required, 4 hex digits each side
//       owner: 山田太郎                  # optional
//       department: 保険課               # optional
//       expires: 2027-03-31             # optional; valid through that day, UTC,
//                                       # or through an instant given with its
//                                       # offset: 2027-03-31T23:59:59+09:00
//   rules:                              # optional; in order, first match wins
//     - name: registered-sticks         # required, unique, [A-Za-z0-9._-]{1,64}
//       match:                          # required, at least one condition
//         registered_media: true
//       action: allow                   # required: allow | read_only | block
//     - name: kingston-readonly
//       match:
//         vid_pid: "0951:1666"          # or vendor_id and/or product_id ("0951")
//         serial: ["AA01", "AA02"]      # a string or a list; any may match
//         class: [mass_storage]         # mass_storage, still_image, optical,
//                                       # card_reader, printer, network, serial,
//                                       # bluetooth, wifi, wireless, smart_card,
//                                       # biometric, hid, hub, other; a name or
//                                       # a list. `wireless` also matches
//                                       # bluetooth (both were `wireless`
//                                       # before bluetooth had its own class).
//         manufacturer: Kingston        # exact
//         product: DataTraveler         # exact
//         bus_path: "1-2"               # exact
//         descriptor_hash: "<64 hex>"   # SHA-256 of the descriptors
//       action: read_only
//   exceptions:                         # time-limited exceptions, written by the
//                                       # collector when a request is approved
//     - id: EX-12                       # required, unique, [A-Za-z0-9._-]{1,64}
//       terminal: "t-0042"              # optional; absent = every terminal the
//                                       # policy governs
//       vid_pid: "0781:5581"            # required
//       serial: "4C530001231120115142"  # required, not empty: one device
//       from: 2026-12-07T10:00:00Z      # required, an instant with Z or an offset
//       until: 2026-12-07T17:00:00+09:00  # required, exclusive, after from;
//                                       # at most 31 days after from
//       reason: 監査資料の受け渡し        # optional, at most 512 bytes
//
// Every problem is collected, not just the first, so an administrator fixes a
// file in one round trip. A policy that fails to parse yields no partial
// policy: half a security policy is worse than the last good one.
//
// Limits keep a hostile or broken document from exhausting the agent or the
// collector: 1 MiB of text, 10000 rules, 100000 ledger entries, 10000
// exceptions, and a budget
// on list items and keys that YAML aliases cannot multiply past.

#include "common/policy/policy_parser.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <tuple>

#include "common/base/hex.h"
#include "common/base/sanitize.h"
#include "common/base/yaml_reader.h"
#include "common/policy/policy.h"
#include "common/policy/rule_engine.h"

namespace mamori {
namespace {

constexpr std::size_t kMaxPolicyBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxRules = 10'000;
constexpr std::size_t kMaxMedia = 100'000;
constexpr std::size_t kMaxExceptions = 10'000;
constexpr std::size_t kMaxExceptionReasonBytes = 512;
constexpr std::size_t kMaxTerminalIdBytes = 128;
// The collector bounds a window far tighter (its setting, 7 days by
// default); this only refuses what no deployment would approve.
constexpr int64_t kMaxExceptionWindowMs = int64_t{31} * 86'400'000;
constexpr std::size_t kMaxPolicyNameChars = 128;
constexpr std::size_t kMaxRuleNameChars = 64;
// Alias-free text of 1 MiB cannot hold this many list items and map entries;
// only "billion laughs" style aliasing gets near it.
constexpr std::size_t kMaxVisitedNodes = 1'000'000;
// Every map here has a handful of known keys; a huge one is not a policy.
constexpr std::size_t kMaxMapKeys = 64;
// Parsing stops early past this many problems; the message shows fewer.
constexpr std::size_t kStopAfterErrors = 1000;
constexpr std::size_t kReportedErrors = 100;

constexpr std::string_view kClassNamesForMessage =
    "mass_storage, still_image, optical, card_reader, printer, network, serial, bluetooth, "
    "wifi, wireless, smart_card, biometric, hid, hub, other";
// The classes with their own key under `defaults:`.
constexpr std::array<DeviceClass, 7> kClassDefaultKeys = {
    DeviceClass::kNetwork,  DeviceClass::kSerial,    DeviceClass::kBluetooth, DeviceClass::kWifi,
    DeviceClass::kWireless, DeviceClass::kSmartCard, DeviceClass::kBiometric,
};
constexpr std::string_view kActionNamesForMessage = "allow, read_only, block";

// Values echoed in messages come from the file; keep them printable and short.
std::string Quote(std::string_view value) { return "'" + SanitizeDeviceString(value, 80) + "'"; }

std::string Indexed(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

std::optional<std::string> ParseDescriptorHash(std::string_view s) {
  if (s.size() != 64) return std::nullopt;
  std::string out(s);
  for (char& c : out) {
    if (HexDigit(c) < 0) return std::nullopt;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "HH:MM:SS" followed by "Z" or "+HH:MM"/"-HH:MM": the seconds since the
// start of the day, minus the offset.
std::optional<int64_t> ParseTimeWithOffset(std::string_view s) {
  const auto two = [&](std::size_t at) -> int {
    if (at + 2 > s.size() || s[at] < '0' || s[at] > '9' || s[at + 1] < '0' || s[at + 1] > '9') {
      return -1;
    }
    return (s[at] - '0') * 10 + (s[at + 1] - '0');
  };
  if (s.size() < 9 || s[2] != ':' || s[5] != ':') return std::nullopt;
  const int h = two(0), m = two(3), sec = two(6);
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return std::nullopt;
  int64_t offset_s = 0;
  const std::string_view zone = s.substr(8);
  if (zone != "Z") {
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':') {
      return std::nullopt;
    }
    const int oh = two(9), om = two(12);
    if (oh < 0 || oh > 14 || om < 0 || om > 59) return std::nullopt;
    offset_s = (zone[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  }
  return int64_t{h} * 3600 + m * 60 + sec - offset_s;
}

// "YYYY-MM-DD" to the last millisecond of that day, UTC; or
// "YYYY-MM-DDTHH:MM:SS" with "Z" or an offset to the last millisecond of
// that second (the media ledger writes the end of a JST day this way).
std::optional<int64_t> ParseExpiryDate(std::string_view s) {
  if (s.size() > 10 && (s[10] == 'T' || s[10] == 't')) {
    const auto day_end = ParseExpiryDate(s.substr(0, 10));
    const auto seconds = ParseTimeWithOffset(s.substr(11));
    if (!day_end || !seconds) return std::nullopt;
    const int64_t ms = (*day_end + 1 - 86'400'000) + *seconds * 1000 + 999;
    // 0 means "never expires"; an instant that early is a mistake.
    if (ms <= 0) return std::nullopt;
    return ms;
  }
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int parts[3] = {0, 0, 0};
  const std::string_view fields[3] = {s.substr(0, 4), s.substr(5, 2), s.substr(8, 2)};
  for (int k = 0; k < 3; ++k) {
    for (char c : fields[k]) {
      if (c < '0' || c > '9') return std::nullopt;
      parts[k] = parts[k] * 10 + (c - '0');
    }
  }
  // Before 1970 would collide with 0 = "never expires".
  if (parts[0] < 1970) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{parts[0]},
                                        std::chrono::month{static_cast<unsigned>(parts[1])},
                                        std::chrono::day{static_cast<unsigned>(parts[2])}};
  if (!ymd.ok()) return std::nullopt;
  const std::chrono::sys_days next_day = std::chrono::sys_days{ymd} + std::chrono::days{1};
  const auto next_day_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(next_day.time_since_epoch());
  return next_day_ms.count() - 1;
}

// "YYYY-MM-DDTHH:MM:SS" with "Z" or "+HH:MM"/"-HH:MM": that instant, in
// Unix epoch milliseconds. An exception's window is absolute time; a bare
// date or a time without its offset would be read in some local zone.
std::optional<int64_t> ParseInstant(std::string_view s) {
  if (s.size() <= 10 || (s[10] != 'T' && s[10] != 't')) return std::nullopt;
  const auto last_ms = ParseExpiryDate(s);
  if (!last_ms) return std::nullopt;
  return *last_ms - 999;
}

bool IsRuleNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::size_t CountCodePoints(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string_view NodeKind(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "a single value";
}

class PolicyParser {
 public:
  explicit PolicyParser(std::string_view source) : r_(std::string(source)) {}

  Result<Policy> Parse(std::string_view text) {
    if (text.size() > kMaxPolicyBytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       r_.source() + ": document is " + std::to_string(text.size()) +
                           " bytes; the limit is " + std::to_string(kMaxPolicyBytes));
    }
    const YAML::Node root = r_.Load(text);
    if (!r_.ok()) return Failure();
    if (!root.IsMap()) {
      r_.Fail(root, "",
              "a policy is a mapping of name:, defaults:, registered_media:, rules: and "
              "exceptions:, got " +
                  std::string(NodeKind(root)));
      return Failure();
    }
    if (!ExpectMap(
            root, "",
            {"name", "description", "defaults", "registered_media", "rules", "exceptions"})) {
      return Failure();
    }
    ParseName(root);
    if (auto d = r_.String(root, "description", "")) policy_.description = *d;
    ParseDefaults(root["defaults"]);
    ParseMedia(root["registered_media"]);
    ParseRules(root["rules"]);
    ParseExceptions(root["exceptions"]);
    if (!r_.ok()) return Failure();
    return std::move(policy_);
  }

 private:
  Error Failure() const {
    // Checks run section by section, not line by line; the reader wants the
    // file's order.
    std::vector<ValidationError> errors = r_.errors();
    std::stable_sort(errors.begin(), errors.end(),
                     [](const ValidationError& a, const ValidationError& b) {
                       return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                     });
    std::string msg;
    for (std::size_t i = 0; i < errors.size() && i < kReportedErrors; ++i) {
      if (!msg.empty()) msg += '\n';
      msg += errors[i].ToString();
    }
    if (errors.size() > kReportedErrors) {
      msg += "\n" + r_.source() + ": ... and " + std::to_string(errors.size() - kReportedErrors) +
             " more problems";
    }
    return MakeError(ErrorCode::kInvalidArgument, msg);
  }

  bool TooManyErrors() const { return r_.errors().size() >= kStopAfterErrors; }

  // Charges the nodes a list or map is about to make us visit. Aliases let a
  // small document name the same big list many times; the budget caps that.
  bool Spend(const YAML::Node& n, std::string_view field) {
    if (budget_exhausted_) return false;
    visited_ += n.size();
    if (visited_ > kMaxVisitedNodes) {
      budget_exhausted_ = true;
      r_.Fail(n, field,
              "the document expands to more than " + std::to_string(kMaxVisitedNodes) +
                  " list items and keys (through YAML aliases); refusing it");
      return false;
    }
    return true;
  }

  bool ExpectMap(const YAML::Node& n, std::string_view field,
                 std::initializer_list<std::string_view> allowed, bool required = true) {
    // A missing key yields an invalid node whose type queries throw.
    if (n.IsDefined() && n.IsMap()) {
      if (n.size() > kMaxMapKeys) {
        r_.Fail(n, field,
                "has " + std::to_string(n.size()) + " keys; expected at most " +
                    std::to_string(allowed.size()));
        return false;
      }
      if (!Spend(n, field)) return false;
    }
    return r_.ExpectMap(n, field, allowed, required);
  }

  std::optional<Action> ActionField(const YAML::Node& map, std::string_view key,
                                    std::string_view path, bool required) {
    const auto s = r_.String(map, key, path, required);
    if (!s) return std::nullopt;
    const auto action = ParseAction(*s);
    if (!action) {
      r_.Fail(map[std::string(key)], YamlReader::Join(path, key),
              "expected one of: " + std::string(kActionNamesForMessage) + "; got " + Quote(*s));
    }
    return action;
  }

  void ParseName(const YAML::Node& root) {
    const auto name = r_.String(root, "name", "", /*required=*/true);
    if (!name) return;
    const std::size_t chars = CountCodePoints(*name);
    if (chars == 0 || chars > kMaxPolicyNameChars) {
      r_.Fail(root["name"], "name",
              "must be 1.." + std::to_string(kMaxPolicyNameChars) + " characters, got " +
                  std::to_string(chars));
    } else if (SanitizeDeviceString(*name, name->size()) != *name) {
      // The name is shown on dashboards and in audit exports.
      r_.Fail(root["name"], "name", "must be valid UTF-8 without control characters");
    }
    policy_.name = *name;
  }

  void ParseDefaults(const YAML::Node& n) {
    if (!ExpectMap(n, "defaults",
                   {"storage", "other", "network", "serial", "bluetooth", "wifi", "wireless",
                    "smart_card", "biometric"},
                   /*required=*/false)) {
      return;
    }
    if (auto a = ActionField(n, "storage", "defaults", false)) policy_.default_storage_action = *a;
    if (auto a = ActionField(n, "other", "defaults", false)) policy_.default_other_action = *a;
    for (DeviceClass c : kClassDefaultKeys) {
      const std::string key(DeviceClassName(c));
      auto a = ActionField(n, key, "defaults", false);
      if (!a) continue;
      if (*a == Action::kReadOnly) {
        // Only a disk can be made read-only.
        r_.Fail(n[key], "defaults." + key, "read_only applies to storage only; use allow or block");
        continue;
      }
      policy_.class_defaults[c] = *a;
    }
  }

  // True when `n` is a list within `limit` that should be walked; a missing
  // or null node is an empty list and not an error.
  bool Sequence(const YAML::Node& n, std::string_view field, std::size_t limit,
                std::string_view what) {
    if (!n.IsDefined() || n.IsNull()) return false;
    if (!n.IsSequence()) {
      r_.Fail(n, field,
              "expected a list of " + std::string(what) + ", got " + std::string(NodeKind(n)));
      return false;
    }
    if (n.size() > limit) {
      r_.Fail(n, field,
              "too many " + std::string(what) + ": " + std::to_string(n.size()) +
                  " (the limit is " + std::to_string(limit) + ")");
      return false;
    }
    return Spend(n, field);
  }

  void ParseMedia(const YAML::Node& n) {
    if (!Sequence(n, "registered_media", kMaxMedia, "registered media")) return;
    policy_.registered_media.reserve(n.size());
    for (std::size_t i = 0; i < n.size() && !TooManyErrors(); ++i) {
      const YAML::Node item = n[i];
      const std::string path = Indexed("registered_media", i);
      if (!ExpectMap(item, path, {"serial", "vid_pid", "owner", "department", "expires"})) {
        continue;
      }
      RegisteredMedium m;
      const auto serial = r_.String(item, "serial", path, /*required=*/true);
      if (serial) {
        if (serial->empty()) {
          r_.Fail(item["serial"], path + ".serial",
                  "must not be empty: a ledger entry names one medium");
        }
        m.serial = *serial;
      }
      if (const auto vp = r_.String(item, "vid_pid", path, /*required=*/true)) {
        if (const auto ids = ParseVidPid(*vp)) {
          std::tie(m.vendor_id, m.product_id) = *ids;
        } else {
          r_.Fail(item["vid_pid"], path + ".vid_pid",
                  "expected 'vvvv:pppp' (hex), got " + Quote(*vp));
        }
      }
      if (auto owner = r_.String(item, "owner", path)) m.owner = std::move(*owner);
      if (auto dept = r_.String(item, "department", path)) m.department = std::move(*dept);
      if (const auto expires = r_.String(item, "expires", path)) {
        if (const auto ms = ParseExpiryDate(*expires)) {
          m.expires_ms = *ms;
        } else {
          r_.Fail(item["expires"], path + ".expires",
                  "expected a date YYYY-MM-DD (1970 or later) or YYYY-MM-DDTHH:MM:SS+HH:MM, got " +
                      Quote(*expires));
        }
      }
      policy_.registered_media.push_back(std::move(m));
    }
  }

  void ParseRules(const YAML::Node& n) {
    if (!Sequence(n, "rules", kMaxRules, "rules")) return;
    policy_.rules.reserve(n.size());
    // Rule name -> line of its first definition, for the duplicate message.
    std::map<std::string, int, std::less<>> seen;
    for (std::size_t i = 0; i < n.size() && !TooManyErrors(); ++i) {
      const YAML::Node item = n[i];
      const std::string path = Indexed("rules", i);
      if (!ExpectMap(item, path, {"name", "match", "action"})) continue;
      Rule rule;
      rule.line = item.Mark().is_null() ? 0 : item.Mark().line + 1;
      if (auto name = r_.String(item, "name", path, /*required=*/true)) {
        const YAML::Node at = item["name"];
        if (name->empty() || name->size() > kMaxRuleNameChars ||
            !std::all_of(name->begin(), name->end(), IsRuleNameChar)) {
          r_.Fail(at, path + ".name",
                  "expected 1.." + std::to_string(kMaxRuleNameChars) +
                      " characters of A-Z a-z 0-9 . _ -, got " + Quote(*name));
        } else if (*name == kDefaultRuleName) {
          r_.Fail(at, path + ".name", "'default' is reserved: it records that no rule matched");
        } else if (auto [it, inserted] = seen.emplace(*name, rule.line); !inserted) {
          r_.Fail(at, path + ".name",
                  "duplicate rule name " + Quote(*name) + " (first defined at line " +
                      std::to_string(it->second) + ")");
        }
        rule.name = std::move(*name);
      }
      const YAML::Node match = item["match"];
      if (!match.IsDefined() || match.IsNull()) {
        r_.Fail(match.IsDefined() ? match : item, path + ".match",
                "required field is missing: a rule must say which devices it matches");
      } else {
        ParseMatch(match, path + ".match", rule.match);
      }
      if (auto a = ActionField(item, "action", path, /*required=*/true)) rule.action = *a;
      policy_.rules.push_back(std::move(rule));
    }
  }

  void ParseExceptions(const YAML::Node& n) {
    if (!Sequence(n, "exceptions", kMaxExceptions, "exceptions")) return;
    policy_.exceptions.reserve(n.size());
    std::map<std::string, int, std::less<>> seen;  // id -> line of its first use
    for (std::size_t i = 0; i < n.size() && !TooManyErrors(); ++i) {
      const YAML::Node item = n[i];
      const std::string path = Indexed("exceptions", i);
      if (!ExpectMap(item, path,
                     {"id", "terminal", "vid_pid", "serial", "from", "until", "reason"})) {
        continue;
      }
      DeviceException e;
      const int line = item.Mark().is_null() ? 0 : item.Mark().line + 1;
      if (auto id = r_.String(item, "id", path, /*required=*/true)) {
        if (id->empty() || id->size() > kMaxRuleNameChars ||
            !std::all_of(id->begin(), id->end(), IsRuleNameChar)) {
          r_.Fail(item["id"], path + ".id",
                  "expected 1.." + std::to_string(kMaxRuleNameChars) +
                      " characters of A-Z a-z 0-9 . _ -, got " + Quote(*id));
        } else if (auto [it, inserted] = seen.emplace(*id, line); !inserted) {
          r_.Fail(item["id"], path + ".id",
                  "duplicate exception id " + Quote(*id) + " (first used at line " +
                      std::to_string(it->second) + ")");
        }
        e.id = std::move(*id);
      }
      if (auto t = r_.String(item, "terminal", path)) {
        if (t->empty() || t->size() > kMaxTerminalIdBytes ||
            SanitizeDeviceString(*t, t->size()) != *t) {
          r_.Fail(item["terminal"], path + ".terminal",
                  "expected a terminal id of 1.." + std::to_string(kMaxTerminalIdBytes) +
                      " printable bytes (omit it for every terminal), got " + Quote(*t));
        }
        e.terminal_id = std::move(*t);
      }
      if (const auto vp = r_.String(item, "vid_pid", path, /*required=*/true)) {
        if (const auto ids = ParseVidPid(*vp)) {
          std::tie(e.vendor_id, e.product_id) = *ids;
        } else {
          r_.Fail(item["vid_pid"], path + ".vid_pid",
                  "expected 'vvvv:pppp' (hex), got " + Quote(*vp));
        }
      }
      if (auto serial = r_.String(item, "serial", path, /*required=*/true)) {
        if (serial->empty()) {
          r_.Fail(item["serial"], path + ".serial",
                  "must not be empty: an exception names one device, and a device without a "
                  "serial cannot be told from its twins");
        }
        e.serial = std::move(*serial);
      }
      const auto from = InstantField(item, "from", path);
      const auto until = InstantField(item, "until", path);
      if (from && until) {
        e.not_before_ms = *from;
        e.not_after_ms = *until;
        if (*until <= *from) {
          r_.Fail(item["until"], path + ".until", "must be after from");
        } else if (*until - *from > kMaxExceptionWindowMs) {
          r_.Fail(item["until"], path + ".until",
                  "the window is longer than 31 days; an exception is for a limited time");
        }
      }
      if (auto reason = r_.String(item, "reason", path)) {
        if (reason->size() > kMaxExceptionReasonBytes) {
          r_.Fail(item["reason"], path + ".reason",
                  "is " + std::to_string(reason->size()) + " bytes; the limit is " +
                      std::to_string(kMaxExceptionReasonBytes));
        }
        e.reason = std::move(*reason);
      }
      policy_.exceptions.push_back(std::move(e));
    }
  }

  std::optional<int64_t> InstantField(const YAML::Node& item, std::string_view key,
                                      const std::string& path) {
    const auto s = r_.String(item, key, path, /*required=*/true);
    if (!s) return std::nullopt;
    const auto ms = ParseInstant(*s);
    if (!ms) {
      r_.Fail(item[std::string(key)], YamlReader::Join(path, key),
              "expected an instant YYYY-MM-DDTHH:MM:SS with Z or an offset such as +09:00, got " +
                  Quote(*s));
    }
    return ms;
  }

  // A scalar or a non-empty list of scalars, each with its node for messages.
  std::vector<std::pair<std::string, YAML::Node>> ScalarList(const YAML::Node& n,
                                                             const std::string& field) {
    std::vector<std::pair<std::string, YAML::Node>> out;
    if (n.IsScalar()) {
      out.emplace_back(n.Scalar(), n);
    } else if (n.IsSequence()) {
      if (n.size() == 0) {
        r_.Fail(n, field, "empty list matches nothing; remove the condition or list values");
      } else if (Spend(n, field)) {
        for (std::size_t i = 0; i < n.size(); ++i) {
          if (n[i].IsScalar()) {
            out.emplace_back(n[i].Scalar(), n[i]);
          } else {
            r_.Fail(n[i], Indexed(field, i),
                    "expected a single value, got " + std::string(NodeKind(n[i])));
          }
        }
      }
    } else {
      r_.Fail(n, field, "expected a value or a list of values, got " + std::string(NodeKind(n)));
    }
    return out;
  }

  std::optional<uint16_t> IdField(const YAML::Node& match, std::string_view key,
                                  const std::string& path) {
    const auto s = r_.String(match, key, path);
    if (!s) return std::nullopt;
    const auto id = ParseUsbId(*s);
    if (!id) {
      r_.Fail(match[std::string(key)], YamlReader::Join(path, key),
              "expected 4 hex digits, got " + Quote(*s));
    }
    return id;
  }

  void ParseMatch(const YAML::Node& n, const std::string& path, DeviceMatch& m) {
    if (!ExpectMap(n, path,
                   {"vid_pid", "vendor_id", "product_id", "serial", "class", "manufacturer",
                    "product", "bus_path", "descriptor_hash", "registered_media"})) {
      return;
    }
    if (n.size() == 0) {
      r_.Fail(n, path, "no condition given; a rule must match something specific");
      return;
    }
    const auto vp = r_.String(n, "vid_pid", path);
    if (vp) {
      if (const auto ids = ParseVidPid(*vp)) {
        m.vendor_id = ids->first;
        m.product_id = ids->second;
      } else {
        r_.Fail(n["vid_pid"], path + ".vid_pid", "expected 'vvvv:pppp' (hex), got " + Quote(*vp));
      }
    }
    for (std::string_view key : {"vendor_id", "product_id"}) {
      if (!n[std::string(key)].IsDefined()) continue;
      if (vp) {
        r_.Fail(n[std::string(key)], YamlReader::Join(path, key),
                "conflicts with vid_pid; give either vid_pid or vendor_id/product_id");
        continue;
      }
      const auto id = IdField(n, key, path);
      if (key == "vendor_id") {
        m.vendor_id = id;
      } else {
        m.product_id = id;
      }
    }
    if (const YAML::Node s = n["serial"]; s.IsDefined()) {
      for (auto& [value, node] : ScalarList(s, path + ".serial")) {
        m.serials.push_back(std::move(value));
      }
    }
    if (const YAML::Node c = n["class"]; c.IsDefined()) {
      const bool single = c.IsScalar();
      std::size_t i = 0;
      for (const auto& [value, node] : ScalarList(c, path + ".class")) {
        const auto cls = ParseDeviceClass(value);
        if (!cls) {
          r_.Fail(node, single ? path + ".class" : Indexed(path + ".class", i),
                  "unknown class " + Quote(value) +
                      " (expected one of: " + std::string(kClassNamesForMessage) + ")");
        } else {
          const auto add = [&m](DeviceClass one) {
            if (std::find(m.classes.begin(), m.classes.end(), one) == m.classes.end()) {
              m.classes.push_back(one);
            }
          };
          add(*cls);
          if (*cls == DeviceClass::kWireless) add(DeviceClass::kBluetooth);
        }
        ++i;
      }
    }
    if (auto s = r_.String(n, "manufacturer", path)) m.manufacturer = std::move(*s);
    if (auto s = r_.String(n, "product", path)) m.product = std::move(*s);
    if (auto s = r_.String(n, "bus_path", path)) m.bus_path = std::move(*s);
    if (const auto s = r_.String(n, "descriptor_hash", path)) {
      m.descriptor_hash = ParseDescriptorHash(*s);
      if (!m.descriptor_hash) {
        r_.Fail(n["descriptor_hash"], path + ".descriptor_hash",
                "expected 64 hex digits (SHA-256), got " + Quote(*s));
      }
    }
    if (const auto b = r_.Bool(n, "registered_media", path)) {
      if (*b) {
        m.registered_media = true;
      } else {
        // "false" would silently match everything, which is never what the
        // author of a rule meant.
        r_.Fail(n["registered_media"], path + ".registered_media",
                "only 'true' is supported; remove the condition to match any device");
      }
    }
  }

  YamlReader r_;
  Policy policy_;
  std::size_t visited_ = 0;
  bool budget_exhausted_ = false;
};

}  // namespace

Result<Policy> ParsePolicy(std::string_view yaml_text, std::string_view source_name) {
  try {
    return PolicyParser(source_name).Parse(yaml_text);
  } catch (const YAML::Exception& e) {
    // YamlReader catches syntax errors; this is a last line of defence so a
    // malformed policy never takes the agent down.
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(source_name) + ": cannot read policy: " + e.what());
  }
}

}  // namespace mamori
