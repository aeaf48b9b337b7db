#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// Where a request for a time-limited exception stands. Whether an approved
// one is pending, active or ended follows from its window and the time.
enum class ExceptionRequestState { kRequested, kApproved, kRefused, kCancelled };

// "requested", "approved", "refused", "cancelled": how the store and the
// API name them.
inline std::string_view ExceptionRequestStateName(ExceptionRequestState s) {
  switch (s) {
    case ExceptionRequestState::kRequested:
      return "requested";
    case ExceptionRequestState::kApproved:
      return "approved";
    case ExceptionRequestState::kRefused:
      return "refused";
    case ExceptionRequestState::kCancelled:
      return "cancelled";
  }
  return "requested";
}

inline std::optional<ExceptionRequestState> ParseExceptionRequestState(std::string_view name) {
  for (ExceptionRequestState s :
       {ExceptionRequestState::kRequested, ExceptionRequestState::kApproved,
        ExceptionRequestState::kRefused, ExceptionRequestState::kCancelled}) {
    if (ExceptionRequestStateName(s) == name) return s;
  }
  return std::nullopt;
}

// A request for a time-limited exception: one device (vid:pid and serial)
// on one terminal or on every terminal of a group, for a window of the
// collector's clock. Rows are never deleted; a decision keeps who made it,
// when and why.
struct ExceptionRequest {
  int64_t id = 0;           // assigned by the store, never reused; "EX-<id>" to agents
  std::string terminal_id;  // "" = every terminal of `group`
  // The group whose policies carry it: the group asked for, or the
  // terminal's group when the request was made.
  std::string group;
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  std::string serial;
  int64_t from_ms = 0;
  int64_t until_ms = 0;  // exclusive
  std::string reason;
  std::string requested_for;  // the person who will use the device
  // The block event it was picked from ("<terminal>#<seq>"), "" when typed.
  std::string source_event;
  std::string requested_by;  // actor, e.g. "web:alice"
  int64_t requested_at_ms = 0;
  ExceptionRequestState state = ExceptionRequestState::kRequested;
  std::string decided_by;  // approver, refuser or canceller
  int64_t decided_at_ms = 0;
  std::string decision_note;
};

// The requests for time-limited exceptions.
class ExceptionRepository {
 public:
  virtual ~ExceptionRepository() = default;

  // Stores a new request (its state, decision fields and id are ignored:
  // it is stored as requested) and returns its id.
  virtual Result<int64_t> AddExceptionRequest(const ExceptionRequest& request) = 0;
  // Moves request `id` from one of `from` to `to`, recording who, when and
  // why. kNotFound for an unknown id; kFailedPrecondition naming the state
  // it is in when that is not one of `from`.
  virtual Status DecideExceptionRequest(int64_t id, const std::vector<ExceptionRequestState>& from,
                                        ExceptionRequestState to, std::string_view by,
                                        int64_t at_ms, std::string_view note) = 0;
  virtual Result<std::optional<ExceptionRequest>> GetExceptionRequest(int64_t id) = 0;
  // Every request, newest first.
  virtual Result<std::vector<ExceptionRequest>> ListExceptionRequests() = 0;
  // The approved requests whose window has not ended at `now_ms`, by id:
  // what the signed policies carry.
  virtual Result<std::vector<ExceptionRequest>> ApprovedExceptions(int64_t now_ms) = 0;
};

}  // namespace mamori
