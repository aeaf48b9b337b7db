#pragma once

// Offline unlock codes on the terminal: the service side of
// `mamori-agent unlock CODE`. Validates a code (common/policy/unlock_code.h)
// against this terminal's unlock key and the devices present, refuses a
// code used before (also across restarts: used codes are kept until their
// expiry) and limits online guessing (failed MAC checks are counted and
// persisted; too many lock the service for a while). An accepted code
// becomes one DeviceException for this terminal and that device, until the
// code's expiry. Every outcome is an event, journaled for the collector.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/event_outbox.h"
#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/device/device.h"
#include "common/policy/policy.h"
#include "common/policy/unlock_code.h"

namespace mamori {

// Where the service keeps what it must remember across restarts: the codes
// used and the recent failed attempts. Only the agent's account may write it.
class UnlockStateStore {
 public:
  virtual ~UnlockStateStore() = default;
  // Nullopt when nothing was saved yet; an error when it cannot be read.
  virtual Result<std::optional<std::string>> Load() = 0;
  virtual Status Save(std::string_view state) = 0;
};

struct UnlockLimits {
  // Failed MAC checks within `failure_window_ms` that lock the service.
  int max_failures = 5;
  int64_t failure_window_ms = 3600 * 1000;
  // How long the lock lasts after the failure that set it.
  int64_t lockout_ms = 3600 * 1000;
  // Accepted clock difference for the 24-hour bound.
  int64_t max_skew_ms = 5 * 60 * 1000;
};

struct UnlockServiceDeps {
  const Clock* clock = nullptr;
  EventOutbox* outbox = nullptr;
  UnlockStateStore* state = nullptr;
  // This terminal's scope; nullopt when no unlock key is configured (every
  // code is then refused as unavailable).
  std::optional<UnlockScope> scope;
  // The devices present, as the agent last decided them.
  std::function<std::vector<Device>()> devices;
  // Turns an accepted code into the time-limited exception that allows the
  // device. An error refuses the code (and leaves it unused).
  std::function<Status(DeviceException)> grant;
  // Told after each recorded event (the reporter sends it when it can).
  std::function<void()> notify;
  UnlockLimits limits;
};

struct UnlockReply {
  bool accepted = false;
  UnlockRefusal refusal = UnlockRefusal::kNone;
  // What the person at the terminal reads.
  std::string message;
};

class UnlockService {
 public:
  explicit UnlockService(UnlockServiceDeps deps);

  // Loads the persisted state. Until it succeeds every code is refused
  // (a lost record of used codes would let a code be used twice).
  Status Start();

  // Validates `code`, typed by `requester` (e.g. "uid 1000 (alice)").
  // Thread-safe; one code at a time.
  UnlockReply Submit(std::string_view code, std::string_view requester);

 private:
  UnlockReply Refuse(UnlockRefusal refusal, std::string message, std::string_view code,
                     std::string_view requester, const Device* device);
  void PruneLocked(int64_t now);
  Status SaveLocked();
  std::optional<int64_t> LockedUntilLocked(int64_t now) const;
  void RecordEvent(Event event);

  UnlockServiceDeps deps_;
  std::mutex mu_;
  bool loaded_ = false;                  // guarded by mu_
  std::string load_error_;               // guarded by mu_
  std::map<std::string, int64_t> used_;  // canonical code -> expiry; guarded by mu_
  std::vector<int64_t> failures_;        // times of failed MAC checks; guarded by mu_
};

// The local channel of `mamori-agent unlock CODE`, the same on every
// platform (a Unix socket on Linux, a named pipe on Windows): one request
// per connection, one line each way, bounded:
//   client:  "UNLOCK <code>\n"
//   service: "accepted\t<message>\n" or "refused\t<reason>\t<message>\n"
inline constexpr std::size_t kMaxUnlockRequestBytes = 256;
inline constexpr std::size_t kMaxUnlockReplyBytes = 8192;
// The request line for `code`, newline included; an error when the code is
// too long to be one.
Result<std::string> FormatUnlockRequest(std::string_view code);
// The code of a request line (without its newline); nullopt when the line
// is not an unlock request.
std::optional<std::string_view> ParseUnlockRequest(std::string_view line);
// The reply line, newline included (tabs and newlines in the message
// become spaces).
std::string FormatUnlockReply(const UnlockReply& reply);
// The reply to a line that is not an unlock request.
inline constexpr std::string_view kBadUnlockRequestReply =
    "refused\tbad_request\tnot an unlock request\n";
// A reply line (without its newline); an error for anything else.
Result<UnlockReply> ParseUnlockReply(std::string_view line);

// The state file's text form; public for tests.
std::string SerializeUnlockState(const std::map<std::string, int64_t>& used,
                                 const std::vector<int64_t>& failures);
Status ParseUnlockState(std::string_view text, std::map<std::string, int64_t>& used,
                        std::vector<int64_t>& failures);

}  // namespace mamori
