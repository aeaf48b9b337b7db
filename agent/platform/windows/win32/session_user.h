#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mamori {

// The user logged on at the terminal, for the `user` field of every event
// ("who plugged the stick in"). Portable: the agent core can hold one
// without Windows headers.
class SessionUser {
 public:
  virtual ~SessionUser() = default;
  // "DOMAIN\user", or "" when nobody is logged on or the platform cannot
  // tell. Cheap enough to call for every event; never blocks for long.
  virtual std::string Current() = 0;
};

// The WTS queries behind WtsSessionUser, so the formatting and the
// no-session cases are tested with a fake.
class WtsApi {
 public:
  virtual ~WtsApi() = default;
  // WTSGetActiveConsoleSessionId; nullopt for 0xFFFFFFFF (no session is
  // attached to the console, as while users switch).
  virtual std::optional<uint32_t> ActiveConsoleSession() = 0;
  // WTSQuerySessionInformationW(WTSUserName / WTSDomainName), UTF-8;
  // nullopt when the query fails.
  virtual std::optional<std::string> UserName(uint32_t session) = 0;
  virtual std::optional<std::string> DomainName(uint32_t session) = 0;
};

// Longest user string reported, in bytes (a SAM name is at most 20
// characters, a NetBIOS domain 15; UPN-style names are longer).
inline constexpr std::size_t kMaxSessionUserBytes = 256;

// "DOMAIN\user"; "user" without a domain; "" without a user. Made safe
// and bounded by SanitizeDeviceString (a local administrator picks names).
std::string FormatSessionUser(std::string_view domain, std::string_view user);

// The console session's user (WTSGetActiveConsoleSessionId): the person at
// the keyboard, where the USB ports are. Users of other (RDP) sessions are
// not reported.
class WtsSessionUser final : public SessionUser {
 public:
  // nullptr: the real wtsapi32.
  explicit WtsSessionUser(WtsApi* api = nullptr);
  std::string Current() override;

 private:
  WtsApi* api_;
};

// The real wtsapi32 calls.
WtsApi& SystemWtsApi();

}  // namespace mamori
