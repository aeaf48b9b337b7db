#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/base/result.h"
#include "server/store/transactions.h"

namespace mamori {

// Serialises writes to the store on one thread and commits them in groups:
// everything queued while the previous commit was in progress goes into the
// next transaction, so many agents reporting at once cost one fsync per
// group instead of one each. Each write runs in a savepoint of its own: one
// that fails is undone alone and refused, its neighbours in the same group
// still commit. RPC handlers submit and return at once; `done`
// runs after the commit (or its failure), which is when the RPC may be
// acknowledged. The `done` callbacks run on a second thread: finishing an
// RPC means HTTP/2 framing, encryption and a socket write, and doing that on
// the writer thread would make it the bottleneck instead of the store.
class IngestWriter {
 public:
  using Work = std::function<Status()>;
  using Done = std::function<void(const Status&)>;

  IngestWriter(Transactions* store, std::size_t max_batch, std::size_t max_queue,
               std::size_t max_per_owner = SIZE_MAX);
  ~IngestWriter();
  IngestWriter(const IngestWriter&) = delete;
  IngestWriter& operator=(const IngestWriter&) = delete;

  // Queues `work`; when the queue is full, or `owner` (a terminal id; ""
  // for none) already has max_per_owner writes queued or being committed,
  // `done` is called at once with kResourceExhausted so the agent retries
  // later: one terminal cannot take the queue every terminal shares.
  void Submit(Work work, Done done, std::string owner = "");

  // Finishes queued work, then stops. Later submissions fail with kUnavailable.
  void Stop();

 private:
  struct Item {
    Work work;
    Done done;
    std::string owner;
  };
  struct Completion {
    Done done;
    Status status;
  };
  void Run(std::stop_token stop);
  void CommitBatch(std::deque<Item>& batch);
  void Complete(std::vector<Completion> completions);
  void RunCompletions(std::stop_token stop);

  Transactions* store_;
  const std::size_t max_batch_;
  const std::size_t max_queue_;
  const std::size_t max_per_owner_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<Item> queue_;  // guarded by mu_
  // Writes of each owner queued or being committed.
  std::map<std::string, std::size_t, std::less<>> per_owner_;  // guarded by mu_
  bool stopped_ = false;                                       // guarded by mu_
  std::mutex completion_mu_;
  std::condition_variable_any completion_cv_;
  std::deque<std::vector<Completion>> completions_;  // guarded by completion_mu_
  // Declared last: the threads stop (and join) before the state they use goes.
  std::jthread completion_thread_;
  std::jthread thread_;
};

}  // namespace mamori
