#include "server/ingest/ingest_writer.h"

#include "common/base/logging.h"

namespace mamori {

IngestWriter::IngestWriter(Transactions* store, std::size_t max_batch, std::size_t max_queue,
                           std::size_t max_per_owner)
    : store_(store), max_batch_(max_batch), max_queue_(max_queue), max_per_owner_(max_per_owner) {
  completion_thread_ = std::jthread([this](std::stop_token st) { RunCompletions(st); });
  thread_ = std::jthread([this](std::stop_token st) { Run(st); });
}

IngestWriter::~IngestWriter() { Stop(); }

void IngestWriter::Submit(Work work, Done done, std::string owner) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      done(MakeError(ErrorCode::kUnavailable, "collector is shutting down"));
      return;
    }
    if (queue_.size() >= max_queue_) {
      done(MakeError(ErrorCode::kResourceExhausted, "collector write queue is full; retry later"));
      return;
    }
    if (!owner.empty()) {
      std::size_t& pending = per_owner_[owner];
      if (pending >= max_per_owner_) {
        done(MakeError(ErrorCode::kResourceExhausted,
                       "too many writes of this terminal are already queued; retry later"));
        return;
      }
      ++pending;
    }
    queue_.push_back({std::move(work), std::move(done), std::move(owner)});
  }
  cv_.notify_one();
}

void IngestWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  thread_.request_stop();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The writer has drained its queue; now deliver the last completions.
  completion_thread_.request_stop();
  completion_cv_.notify_all();
  if (completion_thread_.joinable()) completion_thread_.join();
}

void IngestWriter::Complete(std::vector<Completion> completions) {
  {
    std::lock_guard lock(completion_mu_);
    completions_.push_back(std::move(completions));
  }
  completion_cv_.notify_one();
}

void IngestWriter::RunCompletions(std::stop_token stop) {
  while (true) {
    std::deque<std::vector<Completion>> ready;
    {
      std::unique_lock lock(completion_mu_);
      completion_cv_.wait(lock, stop, [this] { return !completions_.empty(); });
      if (completions_.empty()) return;  // stop requested and drained
      ready.swap(completions_);
    }
    for (auto& group : ready) {
      for (auto& c : group) c.done(c.status);
    }
  }
}

void IngestWriter::Run(std::stop_token stop) {
  while (true) {
    std::deque<Item> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, stop, [this] { return !queue_.empty(); });
      if (queue_.empty()) return;  // stop requested and drained
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
  }
}

void IngestWriter::CommitBatch(std::deque<Item>& batch) {
  static const auto log = GetLogger("ingest");
  // Each write in a savepoint of its own: one that fails (bad data, a
  // constraint) is undone and refused alone, the others commit together.
  std::vector<Status> results(batch.size(), Status::Ok());
  Status group = store_->WithTransaction([&]() -> Status {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      results[i] = store_->WithTransaction([&] { return batch[i].work(); });
    }
    return Status::Ok();
  });
  if (!group) {
    // The commit itself failed (disk full, I/O): retry one transaction
    // each, so only what really fails is refused.
    log->warn("group commit of {} writes failed ({}); retrying one by one", batch.size(),
              group.error().message);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      results[i] = store_->WithTransaction([&] { return batch[i].work(); });
    }
  }
  {
    std::lock_guard lock(mu_);
    for (const Item& item : batch) {
      if (item.owner.empty()) continue;
      auto it = per_owner_.find(item.owner);
      if (it != per_owner_.end() && --it->second == 0) per_owner_.erase(it);
    }
  }
  std::vector<Completion> completions;
  completions.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    completions.push_back({std::move(batch[i].done), std::move(results[i])});
  }
  Complete(std::move(completions));
}

}  // namespace mamori
