#include "agent/platform/sim/sim_device_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "common/base/hex.h"
#include "common/base/logging.h"
#include "common/base/yaml_reader.h"
#include "common/crypto/identity.h"

namespace mamori {
namespace {

constexpr std::string_view kExtension = ".yaml";

std::string ErrnoText(int err) { return std::strerror(err); }

// "41 42:00ff" -> "AB\0\xff". Separators (space, ':') may sit between bytes.
std::optional<std::string> ParseHexBytes(std::string_view s) {
  std::string out;
  int high = -1;
  for (char c : s) {
    if (c == ' ' || c == ':') {
      if (high >= 0) return std::nullopt;  // a separator splits a byte
      continue;
    }
    const int d = HexDigit(c);
    if (d < 0) return std::nullopt;
    if (high < 0) {
      high = d;
    } else {
      out.push_back(static_cast<char>((high << 4) | d));
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return out;
}

// Reads `key` (text) or `key_hex` (raw bytes); at most one may be given.
std::string ReadDeviceString(YamlReader& r, const YAML::Node& root, const std::string& key) {
  const std::string hex_key = key + "_hex";
  auto text = r.String(root, key, "");
  auto hex = r.String(root, hex_key, "");
  if (text && hex) {
    r.Fail(root[hex_key], hex_key, "give either " + key + " or " + hex_key + ", not both");
    return {};
  }
  if (hex) {
    auto bytes = ParseHexBytes(*hex);
    if (!bytes) {
      r.Fail(root[hex_key], hex_key, "expected pairs of hex digits such as \"4c 53 00 ff\"");
      return {};
    }
    return *bytes;
  }
  return text.value_or("");
}

}  // namespace

Result<SimulatedDevice> ParseSimulatedDevice(std::string_view yaml_text,
                                             std::string_view source_name, std::string device_id) {
  YamlReader r{std::string(source_name)};
  const YAML::Node root = r.Load(yaml_text);
  if (!r.ok()) return r.ToError();
  if (!root.IsDefined() || root.IsNull()) {
    r.Fail(root, "", "the device file is empty");
    return r.ToError();
  }
  if (!r.ExpectMap(root, "",
                   {"vendor_id", "product_id", "serial", "serial_hex", "manufacturer",
                    "manufacturer_hex", "product", "product_hex", "bus_path", "class", "interfaces",
                    "descriptor_hash", "fail_enforcement"})) {
    return r.ToError();
  }

  SimulatedDevice out;
  out.device.device_id = std::move(device_id);
  DeviceIdentity& id = out.device.identity;

  for (const char* key : {"vendor_id", "product_id"}) {
    if (auto s = r.String(root, key, "", /*required=*/true)) {
      auto v = ParseUsbId(*s);
      if (!v) {
        r.Fail(root[key], key, "expected 4 hex digits such as \"0781\", got '" + *s + "'");
      } else if (std::string_view(key) == "vendor_id") {
        id.vendor_id = *v;
      } else {
        id.product_id = *v;
      }
    }
  }
  id.serial = ReadDeviceString(r, root, "serial");
  id.manufacturer = ReadDeviceString(r, root, "manufacturer");
  id.product = ReadDeviceString(r, root, "product");
  id.bus_path = r.String(root, "bus_path", "").value_or("");
  id.descriptor_hash = r.String(root, "descriptor_hash", "").value_or("");

  if (auto cls = r.String(root, "class", "", /*required=*/true)) {
    if (auto c = ParseDeviceClass(*cls)) {
      id.device_class = *c;
    } else {
      r.Fail(root["class"], "class",
             "unknown device class '" + *cls +
                 "' (expected mass_storage, still_image, optical, card_reader, printer, "
                 "network, serial, bluetooth, wifi, wireless, smart_card, biometric, hid, hub "
                 "or other)");
    }
  }
  if (auto list = r.StringList(root, "interfaces", "")) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      if (auto c = ParseDeviceClass((*list)[i])) {
        id.interface_classes.push_back(*c);
      } else {
        const YAML::Node n = root["interfaces"];
        r.Fail(n.IsSequence() ? n[i] : n, "interfaces[" + std::to_string(i) + "]",
               "unknown device class '" + (*list)[i] + "'");
      }
    }
  }
  out.fail_enforcement = r.Bool(root, "fail_enforcement", "").value_or(false);

  if (!r.ok()) return r.ToError();
  return out;
}

SimulatedDeviceBackend::SimulatedDeviceBackend(std::string directory,
                                               std::shared_ptr<spdlog::logger> logger)
    : directory_(std::move(directory)),
      log_(logger ? std::move(logger) : GetLogger("sim-devices")) {}

SimulatedDeviceBackend::~SimulatedDeviceBackend() { Stop(); }

Status SimulatedDeviceBackend::Start(std::function<void()> on_change) {
  std::lock_guard lifecycle(lifecycle_mu_);
  if (watcher_.joinable()) {
    return MakeError(ErrorCode::kFailedPrecondition, "simulated backend already started");
  }
  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  if (ec) {
    return MakeError(ErrorCode::kIo,
                     "devices.directory " + directory_ + ": cannot create: " + ec.message());
  }
  UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify.valid()) {
    return MakeError(ErrorCode::kIo, "inotify_init1: " + ErrnoText(errno));
  }
  constexpr uint32_t kMask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM |
                             IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
  if (::inotify_add_watch(inotify.get(), directory_.c_str(), kMask) < 0) {
    return MakeError(ErrorCode::kIo,
                     "devices.directory " + directory_ + ": cannot watch: " + ErrnoText(errno));
  }
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return MakeError(ErrorCode::kIo, "eventfd: " + ErrnoText(errno));

  inotify_fd_ = std::move(inotify);
  stop_fd_ = std::move(stop);
  watcher_ = std::jthread([this, ifd = inotify_fd_.get(), sfd = stop_fd_.get(),
                           cb = std::move(on_change)] { WatchLoop(ifd, sfd, cb); });
  log_->info("watching simulated devices in {}", directory_);
  return Status::Ok();
}

void SimulatedDeviceBackend::Stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  if (!watcher_.joinable()) return;
  const uint64_t one = 1;
  // An eventfd write only fails when the counter would overflow, which
  // leaves it readable anyway.
  [[maybe_unused]] ssize_t n = ::write(stop_fd_.get(), &one, sizeof one);
  watcher_.join();
  watcher_ = std::jthread();
  inotify_fd_.reset();
  stop_fd_.reset();
}

void SimulatedDeviceBackend::WatchLoop(int inotify_fd, int stop_fd,
                                       const std::function<void()>& on_change) {
  // Blocks in poll() until the directory changes or Stop() is called: an
  // idle agent costs no CPU.
  alignas(struct inotify_event) char buf[16 * 1024];
  for (;;) {
    pollfd fds[2] = {{inotify_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      log_->error("poll on the device directory watch failed: {}", ErrnoText(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
      log_->error("device directory watch failed");
      return;
    }
    bool changed = false;
    for (;;) {
      const ssize_t len = ::read(inotify_fd, buf, sizeof buf);
      if (len < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) log_->error("reading inotify events: {}", ErrnoText(errno));
        break;
      }
      if (len == 0) break;
      for (ssize_t off = 0; off < len;) {
        const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
        if ((ev->mask & IN_Q_OVERFLOW) != 0) {
          changed = true;  // events were lost: rescan
          continue;
        }
        if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
          log_->error("device directory {} was removed or moved; no devices are present",
                      directory_);
          changed = true;
          continue;
        }
        if (ev->len == 0) continue;
        const std::string_view name(ev->name);
        if (name.size() > kExtension.size() && name.ends_with(kExtension)) changed = true;
      }
    }
    if (changed) on_change();
  }
}

Result<std::string> SimulatedDeviceBackend::ReadDeviceFile(const std::string& path) const {
  // O_NONBLOCK: a FIFO named like a device file must not hang the agent.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ELOOP) return MakeError(ErrorCode::kInvalidArgument, "symbolic links are refused");
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, ErrnoText(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return MakeError(ErrorCode::kIo, ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, "not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "file is " + std::to_string(st.st_size) + " bytes, over the " +
                         std::to_string(kMaxFileBytes >> 20) + " MiB limit");
  }
  std::string data;
  char chunk[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIo, ErrnoText(errno));
    }
    if (n == 0) break;
    data.append(chunk, static_cast<std::size_t>(n));
    // The file may grow between fstat and read.
    if (data.size() > kMaxFileBytes) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "file is over the " + std::to_string(kMaxFileBytes >> 20) + " MiB limit");
    }
  }
  return data;
}

void SimulatedDeviceBackend::ReportFileProblemLocked(const std::string& path,
                                                     const std::string& message) {
  auto [it, inserted] = reported_.try_emplace(path, message);
  if (!inserted && it->second == message) return;
  it->second = message;
  log_->error("skipping simulated device file {}: {}", path, message);
}

std::vector<ObservedDevice> SimulatedDeviceBackend::Enumerate() {
  std::vector<std::pair<std::string, std::string>> files;  // device id, path
  std::error_code ec;
  std::filesystem::directory_iterator it(directory_, ec);
  if (ec) {
    log_->error("cannot list simulated devices in {}: {}", directory_, ec.message());
  }
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::filesystem::path& p = it->path();
    if (p.extension() != kExtension || p.stem().empty()) continue;
    files.emplace_back(p.stem().string(), p.string());
  }
  std::sort(files.begin(), files.end());

  std::map<std::string, SimulatedDevice, std::less<>> present;
  std::map<std::string, std::string> problems;  // path -> message
  for (auto& [device_id, path] : files) {
    if (!IsValidId(device_id)) {
      problems[path] = "the file name must be a device id of letters, digits, '.', '_', '-'";
      continue;
    }
    auto text = ReadDeviceFile(path);
    if (!text.ok()) {
      // Deleted between listing and reading: simply gone.
      if (text.error().code != ErrorCode::kNotFound) problems[path] = text.error().message;
      continue;
    }
    // An empty file is one being written; the write's close event follows.
    if (text->empty()) continue;
    auto parsed = ParseSimulatedDevice(*text, path, device_id);
    if (!parsed.ok()) {
      problems[path] = parsed.error().message;
      continue;
    }
    present.emplace(device_id, std::move(*parsed));
  }

  std::vector<ObservedDevice> out;
  out.reserve(present.size());
  for (const auto& [id, dev] : present) out.push_back(dev.device);

  std::lock_guard lock(mu_);
  for (const auto& [path, message] : problems) ReportFileProblemLocked(path, message);
  std::erase_if(reported_, [&](const auto& kv) { return !problems.contains(kv.first); });
  std::erase_if(applied_, [&](const auto& kv) { return !present.contains(kv.first); });
  present_ = std::move(present);
  return out;
}

Status SimulatedDeviceBackend::Apply(const ObservedDevice& device, const Decision& decision) {
  std::lock_guard lock(mu_);
  auto it = present_.find(device.device_id);
  if (it == present_.end()) {
    return MakeError(ErrorCode::kNotFound,
                     "simulated device " + device.device_id + " is no longer present");
  }
  if (it->second.fail_enforcement) {
    return MakeError(ErrorCode::kInternal, "simulated enforcement failure for device " +
                                               device.device_id + " (fail_enforcement)");
  }
  applied_[device.device_id] = decision;
  std::string kept;
  for (DeviceClass c : decision.allowed_interface_classes) {
    kept += kept.empty() ? " keeping " : ", ";
    kept += DeviceClassName(c);
  }
  log_->debug("simulated {} of device {}{}", ActionName(decision.action), device.device_id, kept);
  return Status::Ok();
}

std::optional<Action> SimulatedDeviceBackend::AppliedAction(std::string_view device_id) const {
  std::optional<Decision> d = AppliedDecision(device_id);
  if (!d) return std::nullopt;
  return d->action;
}

std::optional<Decision> SimulatedDeviceBackend::AppliedDecision(std::string_view device_id) const {
  std::lock_guard lock(mu_);
  auto it = applied_.find(device_id);
  if (it == applied_.end()) return std::nullopt;
  return it->second;
}

}  // namespace mamori
