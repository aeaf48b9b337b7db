#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mamori {

// Who is on the other end of a mutually authenticated connection, as read
// from the URI SAN of its verified certificate:
//   mamori://terminal/<terminal-id>   an agent
//   mamori://admin/<name>             an administrator (mamorictl, dashboard)
//   mamori://collector/<name>         a collector (server certificates)
// A terminal certificate may carry a second URI SAN mamori://group/<group>
// naming its hierarchical group (e.g. "osaka/suita/hoken").
enum class PeerRole { kTerminal, kAdmin, kCollector };

struct PeerIdentity {
  PeerRole role = PeerRole::kTerminal;
  std::string id;
};

std::string_view PeerRoleName(PeerRole role);  // "terminal", "admin", "collector"

// "mamori://<role>/<id>".
std::string FormatIdentityUri(PeerRole role, std::string_view id);
std::string FormatGroupUri(std::string_view group);

// Parses an identity URI; nullopt if it is not one (group URIs included).
std::optional<PeerIdentity> ParseIdentityUri(std::string_view uri);
// Parses "mamori://group/<group>"; nullopt otherwise.
std::optional<std::string> ParseGroupUri(std::string_view uri);

// Terminal ids, admin names: 1..128 chars of [A-Za-z0-9._-].
bool IsValidId(std::string_view id);
// Groups: segments of [a-z0-9_-]+ separated by '/', 1..255 chars in all;
// no leading, trailing or doubled '/'.
bool IsValidGroup(std::string_view group);
// True if `group` equals `ancestor` or lies below it; "" is the root of all.
bool GroupContains(std::string_view ancestor, std::string_view group);

}  // namespace mamori
