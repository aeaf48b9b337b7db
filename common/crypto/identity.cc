#include "common/crypto/identity.h"

namespace mamori {
namespace {

constexpr std::string_view kScheme = "mamori://";
constexpr std::string_view kGroupPrefix = "mamori://group/";

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsGroupChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

std::string_view PeerRoleName(PeerRole role) {
  switch (role) {
    case PeerRole::kTerminal:
      return "terminal";
    case PeerRole::kAdmin:
      return "admin";
    case PeerRole::kCollector:
      return "collector";
  }
  return "terminal";
}

std::string FormatIdentityUri(PeerRole role, std::string_view id) {
  std::string out(kScheme);
  out += PeerRoleName(role);
  out += '/';
  out += id;
  return out;
}

std::string FormatGroupUri(std::string_view group) {
  return std::string(kGroupPrefix) + std::string(group);
}

std::optional<PeerIdentity> ParseIdentityUri(std::string_view uri) {
  if (!uri.starts_with(kScheme)) return std::nullopt;
  uri.remove_prefix(kScheme.size());
  const auto slash = uri.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view role = uri.substr(0, slash);
  const std::string_view id = uri.substr(slash + 1);
  if (!IsValidId(id)) return std::nullopt;
  for (PeerRole r : {PeerRole::kTerminal, PeerRole::kAdmin, PeerRole::kCollector}) {
    if (role == PeerRoleName(r)) return PeerIdentity{r, std::string(id)};
  }
  return std::nullopt;
}

std::optional<std::string> ParseGroupUri(std::string_view uri) {
  if (!uri.starts_with(kGroupPrefix)) return std::nullopt;
  uri.remove_prefix(kGroupPrefix.size());
  if (!IsValidGroup(uri)) return std::nullopt;
  return std::string(uri);
}

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

bool IsValidGroup(std::string_view group) {
  if (group.empty() || group.size() > 255) return false;
  bool segment_empty = true;
  for (char c : group) {
    if (c == '/') {
      if (segment_empty) return false;
      segment_empty = true;
    } else if (IsGroupChar(c)) {
      segment_empty = false;
    } else {
      return false;
    }
  }
  return !segment_empty;
}

bool GroupContains(std::string_view ancestor, std::string_view group) {
  if (ancestor.empty()) return true;
  if (!group.starts_with(ancestor)) return false;
  return group.size() == ancestor.size() || group[ancestor.size()] == '/';
}

}  // namespace mamori
