#include "tests/integration/harness.h"

#include <filesystem>
#include <fstream>

namespace mamori::testing {

CollectorProcess::CollectorProcess(TestPki& pki, const TempDir& dir, std::string extra_yaml)
    : pki_(pki), dir_(dir) {
  db_path_ = dir.File("collector.db");
  port_file_ = dir.File("collector.port");
  log_path_ = dir.File("collector.log");
  const TlsPaths server = pki.Server();
  config_rest_ = "port_file: " + port_file_ + "\ntls:\n  ca_file: " + server.ca +
                 "\n  cert_file: " + server.cert + "\n  key_file: " + server.key +
                 "\npolicy:\n  signing_key_file: " + pki.PolicyKey().key +
                 "\nstore:\n  path: " + db_path_ + "\nlog:\n  level: debug\n" + extra_yaml;
  config_path_ = dir.Write("collector.yaml", "listen: 127.0.0.1:0\n" + config_rest_);
}

void CollectorProcess::UsePolicySigningKey(const std::string& key_file) {
  const std::string line = "\n  signing_key_file: ";
  const std::size_t at = config_rest_.find(line) + line.size();
  config_rest_.replace(at, config_rest_.find('\n', at) - at, key_file);
  dir_.Write("collector.yaml", "listen: 127.0.0.1:" + std::to_string(port_) + "\n" + config_rest_);
}

bool CollectorProcess::Start() {
  std::filesystem::remove(port_file_);
  if (port_ != 0) {
    dir_.Write("collector.yaml",
               "listen: 127.0.0.1:" + std::to_string(port_) + "\n" + config_rest_);
  }
  process_.emplace(
      ChildProcess::Start({MAMORI_COLLECTOR_BIN, "--config", config_path_}, log_path_));
  const bool up =
      WaitUntil([&] { return !process_->running() || std::filesystem::exists(port_file_); },
                std::chrono::seconds(20));
  if (!up || !process_->running()) return false;
  port_ = std::stoi(ReadWholeFile(port_file_));
  return port_ > 0;
}

std::string CollectorProcess::Log() const { return ReadWholeFile(log_path_); }

bool CollectorProcess::WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return Log().find(needle) != std::string::npos; }, timeout);
}

std::shared_ptr<grpc::Channel> CollectorProcess::Channel(
    const std::optional<TlsPaths>& client) const {
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = ReadWholeFile(pki_.ca_file());
  if (client) {
    opts.pem_private_key = ReadWholeFile(client->key);
    opts.pem_cert_chain = ReadWholeFile(client->cert);
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(std::string(TestPki::kServerName));
  args.SetMaxSendMessageSize(64 * 1024 * 1024);
  return grpc::CreateCustomChannel(address(), grpc::SslCredentials(opts), args);
}

std::unique_ptr<v1::AdminService::Stub> CollectorProcess::Admin(const TlsPaths& creds) const {
  return v1::AdminService::NewStub(Channel(creds));
}

std::unique_ptr<v1::AgentService::Stub> CollectorProcess::Agent(const TlsPaths& creds) const {
  return v1::AgentService::NewStub(Channel(creds));
}

CommandResult CollectorProcess::Ctl(std::vector<std::string> args) const {
  const TlsPaths admin = pki_.Admin();
  std::vector<std::string> argv{MAMORICTL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const auto& a : std::vector<std::string>{
           "--collector", address(), "--ca", admin.ca, "--cert", admin.cert, "--key", admin.key,
           "--server-name", std::string(TestPki::kServerName)}) {
    argv.push_back(a);
  }
  return RunCommand(argv);
}

AgentProcess::AgentProcess(TestPki& pki, const TempDir& dir, const CollectorProcess& collector,
                           std::string terminal_id, std::string group, std::string extra_yaml)
    : id_(std::move(terminal_id)) {
  const TlsPaths tls = pki.IssueTerminal(id_, group);
  device_dir_ = dir.File("devices-" + id_);
  std::filesystem::create_directories(device_dir_);
  state_dir_ = dir.File("state-" + id_);
  const std::string& state_dir = state_dir_;
  log_path_ = dir.File("agent-" + id_ + ".log");
  std::string yaml = "collector:\n  address: " + collector.address() +
                     "\n  server_name: " + std::string(TestPki::kServerName) +
                     "\ntls:\n  ca_file: " + tls.ca + "\n  cert_file: " + tls.cert +
                     "\n  key_file: " + tls.key +
                     "\npolicy:\n  public_key_file: " + pki.PolicyKey().pub +
                     "\nreport:\n  interval: 30s\n" + "backoff:\n  initial: 200ms\n  max: 2s\n" +
                     "devices:\n  backend: simulated\n  directory: " + device_dir_ +
                     "\nstate_dir: " + state_dir + "\nlog:\n  level: debug\n" + extra_yaml;
  config_path_ = dir.Write("agent-" + id_ + ".yaml", yaml);
}

void AgentProcess::Start() {
  process_.emplace(ChildProcess::Start({MAMORI_AGENT_BIN, "--config", config_path_}, log_path_));
}

void AgentProcess::Plug(const std::string& name, const std::string& yaml) const {
  // Written under another name and renamed, as a device appears atomically.
  const std::string tmp = device_dir_ + "/." + name + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << yaml;
  }
  std::filesystem::rename(tmp, device_dir_ + "/" + name + ".yaml");
}

void AgentProcess::Unplug(const std::string& name) const {
  std::filesystem::remove(device_dir_ + "/" + name + ".yaml");
}

std::string AgentProcess::Log() const { return ReadWholeFile(log_path_); }

grpc::ClientContext* WithDeadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

std::string StickYaml(const std::string& serial, const std::string& vid, const std::string& pid) {
  return "vendor_id: \"" + vid + "\"\nproduct_id: \"" + pid + "\"\nserial: \"" + serial +
         "\"\nmanufacturer: SanDisk\nproduct: Ultra\nclass: mass_storage\n"
         "interfaces: [mass_storage]\nbus_path: \"1-2\"\n";
}

std::string KeyboardYaml() {
  return "vendor_id: \"046d\"\nproduct_id: \"c31c\"\nmanufacturer: Logitech\n"
         "product: USB Keyboard\nclass: hid\ninterfaces: [hid]\nbus_path: \"1-1\"\n";
}

}  // namespace mamori::testing
