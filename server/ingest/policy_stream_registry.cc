#include "server/ingest/policy_stream_registry.h"

#include <algorithm>

#include "common/base/logging.h"

namespace mamori {

PolicyStreamRegistry::PolicyStreamRegistry(std::size_t max_per_terminal)
    : max_per_terminal_(std::max<std::size_t>(max_per_terminal, 1)) {}

void PolicyStreamRegistry::Add(std::string_view terminal, std::string_view address,
                               Stream* stream) {
  static const auto log = GetLogger("agent-service");
  std::lock_guard lock(mu_);
  auto it = streams_.find(terminal);
  if (it == streams_.end())
    it = streams_.emplace(std::string(terminal), std::deque<Stream*>{}).first;
  std::deque<Stream*>& open = it->second;
  while (open.size() >= max_per_terminal_) {
    Stream* oldest = open.front();
    open.pop_front();
    log->warn(
        "WatchPolicy from terminal '{}' at {}: more than {} policy streams at once; closing the "
        "oldest",
        terminal, address, max_per_terminal_);
    oldest->Close(grpc::Status(grpc::StatusCode::ABORTED,
                               "replaced by a newer policy stream of the same terminal (at most " +
                                   std::to_string(max_per_terminal_) + " at once)"));
  }
  open.push_back(stream);
}

void PolicyStreamRegistry::Remove(std::string_view terminal, Stream* stream) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(terminal);
  if (it == streams_.end()) return;
  std::erase(it->second, stream);
  if (it->second.empty()) streams_.erase(it);
}

std::size_t PolicyStreamRegistry::Count(std::string_view terminal) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(terminal);
  return it == streams_.end() ? 0 : it->second.size();
}

}  // namespace mamori
