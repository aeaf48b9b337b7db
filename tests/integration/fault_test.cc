// Faults with real processes on loopback: the collector or an agent killed
// with SIGKILL in the middle of an event flood, the collector down while
// devices keep changing, a policy change fanned out to every agent, and a
// frozen (SIGSTOP) collector that only keepalive can notice.
//
// "What the agent recorded" is read from its own journal (the highest seq
// it ever issued); "what the collector stored" from its SQLite file, opened
// read-only. Exactly once and in order means: the stored seqs of a terminal
// are 1..N without a gap or a repeat, N is the journal's highest seq, and
// the events were stored in seq order.

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/device/event.h"
#include "tests/integration/collector_test.h"
#include "tests/integration/delivery.h"
#include "tests/integration/harness.h"

namespace mamori::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

constexpr char kRegisteredSerial[] = "4C530001231120115142";

// Plugs a fresh stick into every agent and unplugs the one plugged three
// rounds earlier, round after round, from its own thread: each round is two
// events per agent (blocked, removed), each with its own serial.
class DeviceFlood {
 public:
  explicit DeviceFlood(std::vector<AgentProcess*> agents, milliseconds pace = milliseconds(4))
      : agents_(std::move(agents)) {
    thread_ = std::jthread([this, pace](std::stop_token stop) {
      for (int round = 0; !stop.stop_requested(); ++round) {
        for (std::size_t a = 0; a < agents_.size(); ++a) {
          agents_[a]->Plug("f" + std::to_string(round),
                           StickYaml("FLOOD" + std::to_string(a) + "X" + std::to_string(round)));
          if (round >= 3) agents_[a]->Unplug("f" + std::to_string(round - 3));
        }
        rounds_.store(round + 1);
        // Paces the load so the agents see separate changes rather than one
        // rescan of a directory that changed a hundred times.
        std::this_thread::sleep_for(pace);
      }
    });
  }
  ~DeviceFlood() { Stop(); }
  void Stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }
  int rounds() const { return rounds_.load(); }

 private:
  std::vector<AgentProcess*> agents_;
  std::atomic<int> rounds_{0};
  std::jthread thread_;
};

class FaultTest : public CollectorTest {
 protected:
  // Applies `yaml` to `group`; returns the new version (0 on failure).
  uint64_t ApplyPolicy(const std::string& group, const std::string& yaml) {
    grpc::ClientContext ctx;
    v1::ApplyPolicyRequest req;
    req.set_group(group);
    req.set_policy_yaml(yaml);
    req.set_source_name("fault_test.yaml");
    v1::ApplyPolicyResponse resp;
    const grpc::Status s = admin_->ApplyPolicy(WithDeadline(&ctx), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return s.ok() ? resp.version() : 0;
  }

  void KillCollector() {
    collector_->process().Signal(SIGKILL);
    ASSERT_EQ(collector_->process().Wait(seconds(10)), 128 + SIGKILL);
  }

  void RestartCollector() {
    ASSERT_TRUE(collector_->Start()) << collector_->Log();
    admin_ = collector_->Admin(pki_.Admin());
  }

  bool AllStored(const std::vector<AgentProcess*>& agents, uint64_t min_each) {
    for (AgentProcess* a : agents) {
      if (StoredEvents(collector_->db_path(), a->id()).size() < min_each) return false;
    }
    return true;
  }
};

TEST_F(FaultTest, CollectorKilledDuringFloodStoresEveryEventExactlyOnceInOrder) {
  std::vector<std::unique_ptr<AgentProcess>> owned;
  std::vector<AgentProcess*> agents;
  for (int i = 0; i < 3; ++i) {
    owned.push_back(std::make_unique<AgentProcess>(pki_, dir_, *collector_,
                                                   "flood-" + std::to_string(i), "osaka/flood"));
    agents.push_back(owned.back().get());
    agents.back()->Start();
  }
  ASSERT_TRUE(WaitUntil([&] { return AllStored(agents, 1); }, seconds(20)));

  DeviceFlood flood(agents);
  // Mid-flood: every agent has events stored and more on the way.
  ASSERT_TRUE(WaitUntil([&] { return AllStored(agents, 60); }, seconds(20)));
  std::map<std::string, uint64_t> stored_before_kill;
  KillCollector();
  for (AgentProcess* a : agents) {
    stored_before_kill[a->id()] = StoredEvents(collector_->db_path(), a->id()).size();
  }
  // The agents keep recording while nobody listens.
  std::map<std::string, uint64_t> recorded_at_kill;
  for (AgentProcess* a : agents) recorded_at_kill[a->id()] = JournalHighestSeq(*a);
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (AgentProcess* a : agents) {
          if (JournalHighestSeq(*a) < recorded_at_kill[a->id()] + 20) return false;
        }
        return true;
      },
      seconds(10)));
  RestartCollector();
  // And after it returns, under load, until the backlog is flowing again.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (AgentProcess* a : agents) {
          if (StoredEvents(collector_->db_path(), a->id()).size() <=
              recorded_at_kill[a->id()] + 20) {
            return false;
          }
        }
        return true;
      },
      seconds(20)));
  flood.Stop();

  for (AgentProcess* a : agents) {
    Delivered d;
    ASSERT_TRUE(WaitDelivered(*collector_, *a, seconds(20), &d))
        << a->id() << ": journal " << d.recorded << ", stored " << d.rows.size() << "\n"
        << a->Log().substr(a->Log().size() > 3000 ? a->Log().size() - 3000 : 0);
    const uint64_t recorded = d.recorded;
    const auto& rows = d.rows;
    ExpectExactlyOnceInOrder(rows, recorded, a->id());
    EXPECT_GT(recorded, stored_before_kill[a->id()] + 20) << "the flood went on across the kill";
    // No event arrived twice under different seqs: every stick is blocked
    // once and removed at most once (these agents never restarted).
    std::map<std::pair<std::string, std::string>, int> per_serial;
    for (const auto& r : rows) {
      if (!r.serial.empty()) ++per_serial[{r.kind, r.serial}];
    }
    for (const auto& [key, count] : per_serial) {
      EXPECT_EQ(count, 1) << key.first << " " << key.second;
    }
    // Agent clocks: events were recorded in seq order.
    for (std::size_t i = 1; i < rows.size(); ++i) {
      EXPECT_GE(rows[i].time_ms, rows[i - 1].time_ms) << "seq " << rows[i].seq;
    }
  }
  std::cerr << "flood rounds: " << flood.rounds() << "\n";
}

TEST_F(FaultTest, AgentKilledMidBatchLosesNothingAndDuplicatesNothing) {
  AgentProcess a(pki_, dir_, *collector_, "killed-agent", "osaka/flood");
  AgentProcess b(pki_, dir_, *collector_, "steady-agent", "osaka/flood");
  a.Start();
  b.Start();
  std::vector<AgentProcess*> agents{&a, &b};
  ASSERT_TRUE(WaitUntil([&] { return AllStored(agents, 1); }, seconds(20)));

  DeviceFlood flood(agents);
  int kills_with_unacked_events = 0;
  for (int kill = 0; kill < 3; ++kill) {
    const uint64_t stored = StoredEvents(collector_->db_path(), a.id()).size();
    ASSERT_TRUE(
        WaitUntil([&] { return StoredEvents(collector_->db_path(), a.id()).size() >= stored + 30; },
                  seconds(20)))
        << a.Log();
    a.process().Signal(SIGKILL);
    ASSERT_EQ(a.process().Wait(seconds(10)), 128 + SIGKILL);
    // Recorded but not yet acknowledged when it died: a batch was in flight
    // or waiting to be sent.
    if (JournalHighestSeq(a) > AckedSeq(a)) ++kills_with_unacked_events;
    a.Start();
  }
  flood.Stop();

  for (AgentProcess* agent : agents) {
    Delivered d;
    ASSERT_TRUE(WaitDelivered(*collector_, *agent, seconds(20), &d))
        << agent->id() << ": journal " << d.recorded << ", acked " << AckedSeq(*agent)
        << ", stored " << d.rows.size();
    ExpectExactlyOnceInOrder(d.rows, d.recorded, agent->id());
  }
  EXPECT_GE(kills_with_unacked_events, 1)
      << "no kill caught the agent with undelivered events; the test proved little";
}

// While the collector is away, agents keep deciding with the policy they
// have and journal everything; when it returns the backlog arrives in seq
// order.
TEST_F(FaultTest, CollectorDownAgentsKeepEnforcingAndBacklogArrivesInOrder) {
  // The agents' local policy (until the collector sends one): only the
  // registered stick is allowed, under the local rule's name.
  const std::string local = dir_.Write(
      "local-policy.yaml",
      "name: local\nregistered_media:\n  - serial: \"" + std::string(kRegisteredSerial) +
          "\"\n    vid_pid: \"0781:5581\"\nrules:\n  - name: local-registered\n    match:\n"
          "      registered_media: true\n    action: allow\n");
  AgentProcess a(pki_, dir_, *collector_, "outage-001", "osaka/outage",
                 "policy_file: " + local + "\n");
  AgentProcess b(pki_, dir_, *collector_, "outage-002", "osaka/outage",
                 "policy_file: " + local + "\n");
  a.Start();
  b.Start();
  std::vector<AgentProcess*> agents{&a, &b};

  // The collector's policy reaches both before the outage.
  const uint64_t version = ApplyPolicy("osaka", RegisteredStickPolicy("pushed", kRegisteredSerial));
  ASSERT_GT(version, 0u);
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (AgentProcess* x : agents) {
          auto t = Terminal(x->id());
          if (!t || t->summary().applied_policy_version() != version) return false;
        }
        return true;
      },
      seconds(20)))
      << a.Log();

  // Everything recorded so far (the policy change's own event included) is
  // stored before the outage, so what the store holds afterwards tells
  // exactly what arrived during it.
  std::map<std::string, uint64_t> recorded_before;
  for (AgentProcess* x : agents) {
    Delivered d;
    ASSERT_TRUE(WaitDelivered(*collector_, *x, seconds(20), &d)) << x->id();
    recorded_before[x->id()] = d.recorded;
  }
  KillCollector();

  // Devices change during the outage; the running agents decide with the
  // pushed policy they hold.
  const std::string allowed_line = "serial '" + std::string(kRegisteredSerial) +
                                   "', mass_storage): allow by rule " + "'registered-sticks'";
  for (AgentProcess* x : agents) {
    x->Plug("registered", StickYaml(kRegisteredSerial));
    for (int i = 0; i < 25; ++i)
      x->Plug("s" + std::to_string(i), StickYaml("OUT" + std::to_string(i)));
  }
  for (AgentProcess* x : agents) {
    ASSERT_TRUE(
        WaitUntil([&] { return x->Log().find(allowed_line) != std::string::npos; }, seconds(10)))
        << x->Log();
    ASSERT_TRUE(WaitUntil(
        [&] {
          return x->Log().find("serial 'OUT24', mass_storage): block by rule 'default'") !=
                 std::string::npos;
        },
        seconds(10)))
        << x->Log();
  }

  // An agent restarted during the outage has only what is on its disk.
  // The agent caches the signed policy it was sent (state_dir), so after a
  // restart it goes on enforcing the pushed policy ("registered-sticks"),
  // not its local file. Without the cache (false) it falls back to the
  // local policy, which is what this asserts then.
  constexpr bool kAgentCachesPushedPolicy = true;
  a.process().Signal(SIGTERM);
  ASSERT_EQ(a.process().Wait(seconds(10)), 0) << a.Log();
  const std::size_t log_before_restart = a.Log().size();
  a.Start();
  const std::string expected_rule =
      kAgentCachesPushedPolicy ? "'registered-sticks'" : "'local-registered'";
  ASSERT_TRUE(WaitUntil(
      [&] {
        return a.Log().find("serial '" + std::string(kRegisteredSerial) +
                                "', mass_storage): allow by rule " + expected_rule,
                            log_before_restart) != std::string::npos;
      },
      seconds(10)))
      << a.Log().substr(log_before_restart);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return a.Log().find("serial 'OUT7', mass_storage): block by rule 'default'",
                            log_before_restart) != std::string::npos;
      },
      seconds(10)));

  std::map<std::string, uint64_t> recorded_during;
  for (AgentProcess* x : agents) {
    recorded_during[x->id()] = JournalHighestSeq(*x);
    // The registered stick and 25 blocked ones at least, all journaled.
    EXPECT_GE(recorded_during[x->id()], recorded_before[x->id()] + 26) << x->id();
    // Nothing of it reached the store.
    EXPECT_EQ(StoredEvents(collector_->db_path(), x->id()).size(), recorded_before[x->id()]);
  }

  const auto returned = Steady::now();
  RestartCollector();
  for (AgentProcess* x : agents) {
    Delivered d;
    ASSERT_TRUE(WaitDelivered(*collector_, *x, seconds(20), &d))
        << x->id() << ": journal " << d.recorded << ", stored " << d.rows.size();
    ExpectExactlyOnceInOrder(d.rows, d.recorded, x->id());
  }
  std::cerr << "backlog delivered "
            << std::chrono::duration_cast<milliseconds>(Steady::now() - returned).count()
            << " ms after the collector returned\n";
}

TEST_F(FaultTest, PolicyChangeReachesEveryConnectedAgent) {
  const std::vector<std::string> groups{"osaka", "osaka/suita", "osaka/suita/hoken",
                                        "osaka/toyonaka", "osaka/toyonaka/kokuho"};
  std::vector<std::unique_ptr<AgentProcess>> agents;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    agents.push_back(std::make_unique<AgentProcess>(pki_, dir_, *collector_,
                                                    "fanout-" + std::to_string(i), groups[i]));
    agents.back()->Start();
  }
  // Connected: each has reported and opened its policy stream.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& a : agents) {
          if (!Terminal(a->id()) ||
              collector_->Log().find("terminal '" + a->id() + "' watching policy") ==
                  std::string::npos) {
            return false;
          }
        }
        return true;
      },
      seconds(20)));

  for (int change = 0; change < 2; ++change) {
    const uint64_t version = ApplyPolicy(
        "osaka", RegisteredStickPolicy("v" + std::to_string(change), kRegisteredSerial));
    ASSERT_GT(version, 0u);
    ASSERT_TRUE(WaitUntil(
        [&] {
          for (const auto& a : agents) {
            auto t = Terminal(a->id());
            if (!t || t->summary().applied_policy_version() != version) return false;
          }
          return true;
        },
        seconds(15)))
        << "policy version " << version << " did not reach every agent";
    for (const auto& a : agents) {
      auto t = Terminal(a->id());
      ASSERT_TRUE(t.has_value());
      EXPECT_EQ(t->summary().assigned_policy_version(), version) << a->id();
    }
  }
}

// A frozen collector keeps its sockets open and the kernel keeps
// acknowledging TCP, so only HTTP/2 keepalive can tell the agent it is gone.
TEST_F(FaultTest, AgentNoticesAFrozenCollectorWithinTheKeepaliveBound) {
  constexpr auto kTime = seconds(5);
  constexpr auto kTimeout = seconds(2);
  AgentProcess a(pki_, dir_, *collector_, "keepalive-001", "osaka");
  // collector.keepalive goes into the collector section the harness wrote.
  {
    std::string cfg = ReadWholeFile(a.config_path());
    const auto server_name = cfg.find("\n  server_name:");
    ASSERT_NE(server_name, std::string::npos) << cfg;
    cfg.insert(cfg.find('\n', server_name + 1) + 1,
               "  keepalive:\n    time: 5s\n    timeout: 2s\n");
    dir_.Write(std::filesystem::path(a.config_path()).filename().string(), cfg);
  }
  a.Start();
  ASSERT_TRUE(collector_->WaitForLog("terminal 'keepalive-001' watching policy", seconds(20)))
      << a.Log();
  ASSERT_TRUE(WaitUntil([&] { return Terminal("keepalive-001").has_value(); }, seconds(10)));

  const std::size_t before = a.Log().size();
  collector_->process().Signal(SIGSTOP);
  const auto frozen = Steady::now();
  const bool noticed =
      WaitUntil([&] { return a.Log().find("policy stream failed", before) != std::string::npos; },
                kTime + kTimeout + seconds(6));
  const auto took = std::chrono::duration_cast<milliseconds>(Steady::now() - frozen);
  collector_->process().Signal(SIGCONT);
  ASSERT_TRUE(noticed) << a.Log().substr(before);
  // One ping interval to send the ping, the timeout to give up on it, and
  // slack for a loaded machine.
  EXPECT_LE(took, kTime + kTimeout + seconds(3)) << a.Log().substr(before);
  std::cerr << "frozen collector noticed after " << took.count() << " ms\n";

  // Thawed, the collector is reachable again: the agent reconnects and a
  // policy change reaches it.
  const uint64_t version =
      ApplyPolicy("osaka", RegisteredStickPolicy("after-thaw", kRegisteredSerial));
  ASSERT_GT(version, 0u);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto t = Terminal("keepalive-001");
        return t && t->summary().applied_policy_version() == version;
      },
      seconds(20)))
      << a.Log().substr(before);
}

}  // namespace
}  // namespace mamori::testing
