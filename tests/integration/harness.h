#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mamori/v1/admin.grpc.pb.h"
#include "mamori/v1/agent.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace mamori::testing {

// A real mamori-collector process on 127.0.0.1 with a port picked by the
// kernel, its own SQLite file and a PKI made for the test.
class CollectorProcess {
 public:
  CollectorProcess(TestPki& pki, const TempDir& dir, std::string extra_yaml = "");

  // Starts the process and waits until it listens. Returns false (with the
  // log available) when it exits or does not listen within 20 s. The first
  // start takes a free port; a restart listens on the same one again, so
  // running agents find it as they would in production.
  bool Start();
  // Signs policies with another key from the next Start (the default is
  // the PKI's PolicyKey(), which agents pin).
  void UsePolicySigningKey(const std::string& key_file);
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string config_path() const { return config_path_; }
  std::string db_path() const { return db_path_; }
  ChildProcess& process() { return *process_; }
  std::string Log() const;
  // Waits until the log contains `needle`.
  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout);

  std::shared_ptr<grpc::Channel> Channel(const std::optional<TlsPaths>& client) const;
  std::unique_ptr<v1::AdminService::Stub> Admin(const TlsPaths& creds) const;
  std::unique_ptr<v1::AgentService::Stub> Agent(const TlsPaths& creds) const;

  // Runs mamorictl against this collector with the admin certificate.
  CommandResult Ctl(std::vector<std::string> args) const;

 private:
  TestPki& pki_;
  const TempDir& dir_;
  std::string config_path_;
  std::string db_path_;
  std::string port_file_;
  std::string log_path_;
  std::string config_rest_;  // everything in the config but the listen line
  std::optional<ChildProcess> process_;
  int port_ = 0;
};

// A real mamori-agent process with the simulated device backend.
class AgentProcess {
 public:
  AgentProcess(TestPki& pki, const TempDir& dir, const CollectorProcess& collector,
               std::string terminal_id, std::string group, std::string extra_yaml = "");
  void Start();
  // Adds or replaces a simulated device file.
  void Plug(const std::string& name, const std::string& yaml) const;
  void Unplug(const std::string& name) const;
  const std::string& id() const { return id_; }
  const std::string& device_dir() const { return device_dir_; }
  const std::string& config_path() const { return config_path_; }
  // Holds the agent's event journal and seq counters.
  const std::string& state_dir() const { return state_dir_; }
  ChildProcess& process() { return *process_; }
  std::string Log() const;

 private:
  std::string id_;
  std::string config_path_;
  std::string device_dir_;
  std::string state_dir_;
  std::string log_path_;
  std::optional<ChildProcess> process_;
};

grpc::ClientContext* WithDeadline(grpc::ClientContext* ctx, int seconds = 10);

// YAML of a simulated device.
std::string StickYaml(const std::string& serial, const std::string& vid = "0781",
                      const std::string& pid = "5581");
std::string KeyboardYaml();

}  // namespace mamori::testing
