#include "server/policy/ledger_policy.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "common/base/jst_time.h"
#include "common/crypto/identity.h"
#include "common/device/device.h"
#include "common/policy/policy_parser.h"
#include "server/policy/policy_sections.h"

namespace mamori {
namespace {

using MediumKey = std::tuple<std::string, uint16_t, uint16_t>;

MediumKey KeyOf(const RegisteredMedium& m) { return {m.serial, m.vendor_id, m.product_id}; }
MediumKey KeyOf(const LedgerEntry& e) { return {e.serial, e.vendor_id, e.product_id}; }

bool SameMedium(const RegisteredMedium& a, const RegisteredMedium& b) {
  return a.serial == b.serial && a.vendor_id == b.vendor_id && a.product_id == b.product_id &&
         a.owner == b.owner && a.department == b.department && a.expires_ms == b.expires_ms;
}

bool SameMedia(const std::vector<RegisteredMedium>& a, const std::vector<RegisteredMedium>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), SameMedium);
}

// Everything but the media, as far as the merge could disturb it.
bool SameRest(const Policy& a, const Policy& b) {
  if (a.name != b.name || a.description != b.description ||
      a.default_storage_action != b.default_storage_action ||
      a.default_other_action != b.default_other_action || a.class_defaults != b.class_defaults ||
      a.rules.size() != b.rules.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.rules.size(); ++i) {
    if (a.rules[i].name != b.rules[i].name || a.rules[i].action != b.rules[i].action) return false;
  }
  return true;
}

// 0 = never, which outlasts any date.
bool ExpiresLater(int64_t a, int64_t b) { return b != 0 && (a == 0 || a > b); }

std::string MediumLine(const RegisteredMedium& m) {
  YAML::Emitter e;
  e << YAML::Flow << YAML::BeginMap;
  e << YAML::Key << "serial" << YAML::Value << YAML::DoubleQuoted << m.serial;
  e << YAML::Key << "vid_pid" << YAML::Value << YAML::DoubleQuoted
    << FormatVidPid(m.vendor_id, m.product_id);
  if (!m.owner.empty()) e << YAML::Key << "owner" << YAML::Value << YAML::DoubleQuoted << m.owner;
  if (!m.department.empty()) {
    e << YAML::Key << "department" << YAML::Value << YAML::DoubleQuoted << m.department;
  }
  if (m.expires_ms != 0) {
    e << YAML::Key << "expires" << YAML::Value << YAML::DoubleQuoted << JstIso8601(m.expires_ms);
  }
  e << YAML::EndMap;
  return e.c_str();
}

std::string MediaBlock(const std::vector<RegisteredMedium>& media) {
  std::string out =
      "# registered_media is kept by the collector: the active entries of the media\n"
      "# ledger (外部記録媒体管理台帳) for this group, and any entries of the applied\n"
      "# document for media the ledger does not know. Change the ledger, not this list.\n";
  if (media.empty()) return out + "registered_media: []\n";
  out += "registered_media:\n";
  for (const RegisteredMedium& m : media) out += "  - " + MediumLine(m) + "\n";
  return out;
}

std::string EmitWhole(const YAML::Node& root, const std::vector<RegisteredMedium>& media) {
  YAML::Node copy = YAML::Clone(root);
  copy.remove("registered_media");
  // The media block is appended as block-style keys, so the top level must
  // be a block mapping too.
  copy.SetStyle(YAML::EmitterStyle::Block);
  YAML::Emitter e;
  e << copy;
  std::string out = e.c_str();
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out + MediaBlock(media);
}

// True when `text` parses to `original` with `media` in place of its own.
bool Faithful(std::string_view text, const Policy& original,
              const std::vector<RegisteredMedium>& media, std::string_view source_name) {
  auto parsed = ParsePolicy(text, source_name);
  return parsed.ok() && SameRest(*parsed, original) && SameMedia(parsed->registered_media, media);
}

}  // namespace

std::vector<RegisteredMedium> MergedMedia(const std::vector<RegisteredMedium>& document_media,
                                          std::string_view group,
                                          const std::vector<LedgerEntry>& ledger) {
  std::set<MediumKey> known;
  for (const LedgerEntry& e : ledger) known.insert(KeyOf(e));
  std::vector<RegisteredMedium> out;
  for (const RegisteredMedium& m : document_media) {
    if (!known.contains(KeyOf(m))) out.push_back(m);
  }
  std::map<MediumKey, std::size_t> index;  // medium -> position in out
  for (const LedgerEntry& e : ledger) {
    if (!e.active() || !GroupContains(e.group, group)) continue;
    RegisteredMedium m;
    m.serial = e.serial;
    m.vendor_id = e.vendor_id;
    m.product_id = e.product_id;
    m.owner = e.owner;
    m.department = e.department;
    m.expires_ms = e.expires_ms;
    if (auto it = index.find(KeyOf(e)); it != index.end()) {
      if (ExpiresLater(m.expires_ms, out[it->second].expires_ms)) out[it->second] = std::move(m);
      continue;
    }
    index.emplace(KeyOf(e), out.size());
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::string> ReplaceRegisteredMedia(std::string_view yaml,
                                           const std::vector<RegisteredMedium>& media,
                                           std::string_view source_name) {
  auto original = ParsePolicy(yaml, source_name);
  if (!original.ok()) return original.error();
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(source_name) + ": " + e.what());
  }
  const std::string block = MediaBlock(media);
  if (auto spliced = SpliceTopLevelSection(yaml, root, "registered_media", block)) {
    if (Faithful(*spliced, *original, media, source_name)) return *spliced;
  }
  std::string whole;
  try {
    whole = EmitWhole(root, media);
  } catch (const YAML::Exception& e) {
    return MakeError(ErrorCode::kInternal, "cannot rewrite the registered media of " +
                                               std::string(source_name) + ": " + e.what());
  }
  if (Faithful(whole, *original, media, source_name)) return whole;
  // Usually the size limit: too many media for one policy document.
  auto parsed = ParsePolicy(whole, std::string(source_name) + " with the ledger's media");
  if (!parsed.ok()) return parsed.error();
  return MakeError(ErrorCode::kInternal, "rewriting the registered media of " +
                                             std::string(source_name) +
                                             " changed the rest of the document; nothing stored");
}

Result<std::string> MergeLedgerIntoPolicy(std::string_view source_yaml, std::string_view group,
                                          const std::vector<LedgerEntry>& ledger,
                                          std::string_view source_name) {
  auto parsed = ParsePolicy(source_yaml, source_name);
  if (!parsed.ok()) return parsed.error();
  const std::vector<RegisteredMedium> media = MergedMedia(parsed->registered_media, group, ledger);
  if (SameMedia(media, parsed->registered_media)) return std::string(source_yaml);
  return ReplaceRegisteredMedia(source_yaml, media, source_name);
}

std::vector<std::string> LedgerScopeWarnings(std::string_view scope,
                                             const std::vector<std::string>& policy_groups) {
  std::vector<std::string> out;
  if (policy_groups.empty()) {
    out.push_back(
        "no group has a policy yet: agents enforce the built-in default (removable storage "
        "blocked) until one is applied; the entry is merged into every policy applied within "
        "its scope");
    return out;
  }
  if (scope.empty()) return out;
  if (std::find(policy_groups.begin(), policy_groups.end(), scope) != policy_groups.end()) {
    return out;
  }
  std::string ancestor;
  for (const std::string& g : policy_groups) {
    if (g != scope && GroupContains(g, scope) && g.size() > ancestor.size()) ancestor = g;
  }
  const std::string s(scope);
  if (ancestor.empty()) {
    out.push_back("no policy governs group " + s +
                  ": its terminals enforce the built-in default (removable storage blocked) "
                  "until a policy is applied to " +
                  s + " or one of its ancestors");
  } else {
    out.push_back("group " + s + " has no policy of its own: its terminals use the policy of " +
                  ancestor + ", which does not carry media registered for " + s +
                  " only; apply a policy to " + s + " for the entry to take effect there");
  }
  return out;
}

}  // namespace mamori
