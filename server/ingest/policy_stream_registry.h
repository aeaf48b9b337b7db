#pragma once

#include <grpcpp/support/status.h>

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace mamori {

// The policy streams each terminal holds open, bounded per terminal: a new
// stream beyond the bound closes the terminal's oldest one with ABORTED.
// Closing the oldest rather than refusing the newest keeps an honest agent
// that reconnects (its old stream not yet known to be dead) from being
// locked out, and a hostile one still holds no more than the bound.
class PolicyStreamRegistry {
 public:
  class Stream {
   public:
    virtual ~Stream() = default;
    // Ends the stream with `status`; may be called once the stream was
    // already finished, and then does nothing.
    virtual void Close(const grpc::Status& status) = 0;
  };

  explicit PolicyStreamRegistry(std::size_t max_per_terminal);

  // Registers `stream` of `terminal` (from `address`, for the log).
  void Add(std::string_view terminal, std::string_view address, Stream* stream);
  // Forgets `stream`; it must be called before the stream is destroyed.
  void Remove(std::string_view terminal, Stream* stream);
  std::size_t Count(std::string_view terminal) const;

 private:
  const std::size_t max_per_terminal_;
  mutable std::mutex mu_;
  // Oldest first. Close is called under mu_, and Remove takes mu_, so a
  // stream is never closed after it was forgotten and destroyed.
  std::map<std::string, std::deque<Stream*>, std::less<>> streams_;  // guarded by mu_
};

}  // namespace mamori
