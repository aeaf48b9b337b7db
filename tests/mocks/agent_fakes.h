#pragma once

// Fakes for the agent's collaborators. Test-only: the product never carries
// a fake transport or backend.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/core/collector_client.h"
#include "agent/core/device_backend.h"
#include "agent/core/exception_store.h"
#include "agent/core/policy_cache.h"
#include "agent/core/policy_verifier.h"
#include "common/base/clock.h"
#include "common/policy/policy_signing.h"
#include "tests/mocks/outbox_events.h"

namespace mamori::testing {

// The collector's policy key in agent tests (generated once per process).
inline const PolicySigningKey& TestPolicyKey() {
  static const PolicySigningKey key = PolicySigningKey::Generate().value();
  return key;
}

// A bundle signed by `key`, as a collector holding it would send.
inline PolicyBundle SignedUpdate(uint64_t version, std::string group, std::string yaml,
                                 const PolicySigningKey& key = TestPolicyKey()) {
  PolicyBundle u;
  u.version = version;
  u.group = std::move(group);
  u.policy_yaml = std::move(yaml);
  PolicySignature sig = key.Sign(u).value();
  u.signature = std::move(sig.signature);
  u.key_id = std::move(sig.key_id);
  return u;
}

// Verifies against TestPolicyKey(), as an agent pinning it does.
inline const PolicyVerifier& TestPolicyVerifier() {
  static const PinnedKeyPolicyVerifier verifier(TestPolicyKey().public_key());
  return verifier;
}

// A policy cache in memory; `fail_save` makes Save fail.
class MemoryPolicyCache final : public PolicyCache {
 public:
  Result<std::optional<PolicyBundle>> Load() override {
    std::lock_guard lock(mu_);
    return bundle_;
  }
  Result<uint64_t> HighestAccepted() override {
    std::lock_guard lock(mu_);
    return highest_;
  }
  Status Save(const PolicyBundle& bundle) override {
    std::lock_guard lock(mu_);
    if (!fail_save.empty()) return MakeError(ErrorCode::kIo, fail_save);
    bundle_ = bundle;
    highest_ = std::max(highest_, bundle.version);
    return Status::Ok();
  }
  std::string Describe() const override { return "memory"; }

  std::string fail_save;

 private:
  std::mutex mu_;
  std::optional<PolicyBundle> bundle_;
  uint64_t highest_ = 0;
};

// An exception store in memory; `fail_save` makes Save fail, `fail_load`
// Load.
class MemoryExceptionStore final : public ExceptionStore {
 public:
  Result<ExceptionState> Load() override {
    std::lock_guard lock(mu_);
    if (!fail_load.empty()) return MakeError(ErrorCode::kFailedPrecondition, fail_load);
    return state_;
  }
  Status Save(const ExceptionState& state) override {
    std::lock_guard lock(mu_);
    if (!fail_save.empty()) return MakeError(ErrorCode::kIo, fail_save);
    state_ = state;
    ++saves_;
    return Status::Ok();
  }
  std::string Describe() const override { return "memory"; }
  ExceptionState state() const {
    std::lock_guard lock(mu_);
    return state_;
  }
  int saves() const {
    std::lock_guard lock(mu_);
    return saves_;
  }

  std::string fail_save;
  std::string fail_load;

 private:
  mutable std::mutex mu_;
  ExceptionState state_;
  int saves_ = 0;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 1'760'000'000'000) : now_(now_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_;
};

class FakeBackend final : public DeviceBackend {
 public:
  std::string_view Name() const override { return "fake"; }

  Status Start(std::function<void()> on_change) override {
    std::lock_guard lock(mu_);
    if (!start_error.empty()) return MakeError(ErrorCode::kIo, start_error);
    on_change_ = std::move(on_change);
    return Status::Ok();
  }
  void Stop() override {
    std::lock_guard lock(mu_);
    on_change_ = nullptr;
  }
  std::vector<ObservedDevice> Enumerate() override {
    std::lock_guard lock(mu_);
    std::vector<ObservedDevice> out;
    for (const auto& [id, d] : devices_) out.push_back(d);
    return out;
  }
  Status Apply(const ObservedDevice& device, const Decision& decision) override {
    std::lock_guard lock(mu_);
    applies_.push_back({device.device_id, decision.action});
    decisions_.push_back({device.device_id, decision});
    if (vanishing_.erase(device.device_id) > 0) {
      devices_.erase(device.device_id);
      return MakeError(ErrorCode::kNotFound,
                       "USB device " + device.device_id + " is no longer present");
    }
    if (failing_.contains(device.device_id)) {
      return MakeError(ErrorCode::kIo, "cannot write authorized for " + device.device_id);
    }
    return Status::Ok();
  }
  // The device is unplugged while its next decision is carried out.
  void VanishOnApply(const std::string& id) {
    std::lock_guard lock(mu_);
    vanishing_.insert(id);
  }

  // `instance`: which plug-in of the device this is (a new one after a
  // re-plug at the same id).
  void Plug(const std::string& id, DeviceIdentity identity, std::string instance = "") {
    std::lock_guard lock(mu_);
    ObservedDevice d;
    d.device_id = id;
    d.identity = std::move(identity);
    d.instance = std::move(instance);
    devices_[id] = std::move(d);
  }
  // A device the platform could not identify, and why.
  void PlugUnidentified(const std::string& id, DeviceIdentity identity, std::string why) {
    std::lock_guard lock(mu_);
    ObservedDevice d;
    d.device_id = id;
    d.identity = std::move(identity);
    d.unidentified = std::move(why);
    devices_[id] = std::move(d);
  }
  void Unplug(const std::string& id) {
    std::lock_guard lock(mu_);
    devices_.erase(id);
  }
  // A failure the platform found after Apply returned (a disk it could not
  // make read-only, say): reported by Enumerate, returned by Apply.
  void FailLater(const std::string& id, const std::string& error) {
    std::lock_guard lock(mu_);
    devices_[id].enforcement_error = error;
    failing_.insert(id);
  }
  void SetFailing(const std::string& id, bool failing) {
    std::lock_guard lock(mu_);
    if (failing) {
      failing_.insert(id);
    } else {
      failing_.erase(id);
    }
  }
  // Simulates the platform noticing a change.
  void FireChange() {
    std::function<void()> cb;
    {
      std::lock_guard lock(mu_);
      cb = on_change_;
    }
    if (cb) cb();
  }
  std::vector<std::pair<std::string, Action>> applies() const {
    std::lock_guard lock(mu_);
    return applies_;
  }
  // Every Apply call with the whole decision, in order.
  std::vector<std::pair<std::string, Decision>> applied_decisions() const {
    std::lock_guard lock(mu_);
    return decisions_;
  }

  std::string start_error;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ObservedDevice> devices_;
  std::set<std::string> failing_;
  std::set<std::string> vanishing_;
  std::vector<std::pair<std::string, Action>> applies_;
  std::vector<std::pair<std::string, Decision>> decisions_;
  std::function<void()> on_change_;
};

inline DeviceIdentity Stick(std::string serial = "4C530001231120115142") {
  DeviceIdentity id;
  id.vendor_id = 0x0781;
  id.product_id = 0x5581;
  id.serial = std::move(serial);
  id.manufacturer = "SanDisk";
  id.product = "Ultra";
  id.bus_path = "1-2";
  id.device_class = DeviceClass::kMassStorage;
  id.interface_classes = {DeviceClass::kMassStorage};
  return id;
}

inline DeviceIdentity Keyboard() {
  DeviceIdentity id;
  id.vendor_id = 0x046d;
  id.product_id = 0xc31c;
  id.manufacturer = "Logitech";
  id.product = "USB Keyboard";
  id.bus_path = "1-3";
  id.device_class = DeviceClass::kHid;
  id.interface_classes = {DeviceClass::kHid};
  return id;
}

// A keyboard that also offers a mass-storage interface (and a printer
// port), declaring its classes per interface.
inline DeviceIdentity KeyboardWithStorage() {
  DeviceIdentity id = Keyboard();
  id.product = "Keyboard with card slot";
  id.serial = "KB-1";
  id.device_class = DeviceClass::kUnspecified;
  id.interface_classes = {DeviceClass::kHid, DeviceClass::kMassStorage, DeviceClass::kPrinter};
  return id;
}

// A scripted collector. Calls are recorded; the answers are set by the test.
class FakeCollectorClient final : public CollectorClient {
 public:
  using Clock = std::chrono::steady_clock;

  // The collector's clock each StateAck carries (0 = none).
  void SetCollectorTime(int64_t ms) { collector_time_ms_ = ms; }

  Result<StateAckInfo> ReportState(const TerminalState& state) override {
    std::lock_guard lock(mu_);
    state_attempts_.push_back(Clock::now());
    if (fail_next_calls_ > 0) {
      --fail_next_calls_;
      cv_.notify_all();
      return MakeError(ErrorCode::kUnavailable, "UNAVAILABLE: connection refused");
    }
    states_.push_back(state);
    cv_.notify_all();
    return StateAckInfo{collector_time_ms_.load(), assigned_version_};
  }

  Result<uint64_t> ReportEvents(const std::vector<OutboxRecord>& records) override {
    std::lock_guard lock(mu_);
    const std::vector<Event> events = DecodeRecords(records);
    batches_.push_back(events);
    for (const Event& e : events) {
      if (e.seq == stored_through_ + 1 && stored_through_ < store_limit_) stored_through_ = e.seq;
    }
    cv_.notify_all();
    return stored_through_;
  }

  Status WatchPolicy(uint64_t current_version,
                     const std::function<void(const PolicyBundle&)>& on_update) override {
    std::unique_lock lock(mu_);
    watch_versions_.push_back(current_version);
    watching_ = true;
    cv_.notify_all();
    for (;;) {
      cv_.wait(lock, [&] { return cancel_ || !updates_.empty() || end_stream_; });
      if (cancel_) {
        cancel_ = false;
        watching_ = false;
        cv_.notify_all();
        return MakeError(ErrorCode::kUnavailable, "CANCELLED");
      }
      if (end_stream_) {
        end_stream_ = false;
        watching_ = false;
        cv_.notify_all();
        return MakeError(ErrorCode::kUnavailable, "UNAVAILABLE: stream reset");
      }
      PolicyBundle u = updates_.front();
      updates_.pop_front();
      lock.unlock();
      on_update(u);
      lock.lock();
      ++delivered_;
      cv_.notify_all();
    }
  }

  void CancelWatch() override {
    std::lock_guard lock(mu_);
    if (watching_) cancel_ = true;
    cv_.notify_all();
  }

  // --- scripting ---
  void FailNextStateCalls(int n) {
    std::lock_guard lock(mu_);
    fail_next_calls_ = n;
  }
  // The collector stores events only up to this seq.
  void SetStoreLimit(uint64_t limit) {
    std::lock_guard lock(mu_);
    store_limit_ = limit;
  }
  void PushPolicy(PolicyBundle u) {
    std::lock_guard lock(mu_);
    updates_.push_back(std::move(u));
    cv_.notify_all();
  }
  void EndStream() {
    std::lock_guard lock(mu_);
    end_stream_ = true;
    cv_.notify_all();
  }

  // Waits until `pred` (called under the lock) holds, up to `timeout`.
  bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, pred);
  }

  // Accessors; call under WaitFor's predicate or after the reporter stopped.
  std::vector<TerminalState> states_;
  std::vector<Clock::time_point> state_attempts_;
  std::vector<std::vector<Event>> batches_;
  std::vector<uint64_t> watch_versions_;
  int delivered_ = 0;
  uint64_t stored_through_ = 0;
  bool watching_ = false;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int fail_next_calls_ = 0;
  uint64_t store_limit_ = UINT64_MAX;
  uint64_t assigned_version_ = 0;
  std::atomic<int64_t> collector_time_ms_{0};
  std::deque<PolicyBundle> updates_;
  bool cancel_ = false;
  bool end_stream_ = false;
};

}  // namespace mamori::testing
