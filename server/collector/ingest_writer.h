#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

#include "common/result.h"
#include "server/store/store.h"

namespace mamori {

// Serialises writes to the store on one thread and commits them in groups:
// everything queued while the previous commit was in progress goes into the
// next transaction, so many agents reporting at once cost one fsync per
// group instead of one each. RPC handlers submit and return at once; `done`
// runs on the writer thread after the commit (or its failure), which is when
// the RPC may be acknowledged.
class IngestWriter {
 public:
  using Work = std::function<Status()>;
  using Done = std::function<void(const Status&)>;

  IngestWriter(Store* store, std::size_t max_batch, std::size_t max_queue);
  ~IngestWriter();
  IngestWriter(const IngestWriter&) = delete;
  IngestWriter& operator=(const IngestWriter&) = delete;

  // Queues `work`; when the queue is full `done` is called at once with
  // kResourceExhausted so the agent retries later.
  void Submit(Work work, Done done);

  // Finishes queued work, then stops. Later submissions fail with kUnavailable.
  void Stop();

 private:
  struct Item {
    Work work;
    Done done;
  };
  void Run(std::stop_token stop);
  void CommitBatch(std::deque<Item>& batch);

  Store* store_;
  const std::size_t max_batch_;
  const std::size_t max_queue_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool stopped_ = false;    // guarded by mu_
  std::jthread thread_;
};

}  // namespace mamori
