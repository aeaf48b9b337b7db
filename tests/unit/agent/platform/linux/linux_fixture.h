#pragma once

// Fixture sysfs trees and fakes for the Linux backend tests.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "agent/platform/linux/block_guard.h"
#include "agent/platform/linux/sysfs.h"
#include "agent/platform/linux/uevent_source.h"
#include "tests/support/temp_dir.h"

namespace mamori::testing {

// ---- descriptor bytes -------------------------------------------------------

inline std::string DeviceDescriptor(uint8_t cls, uint16_t vid, uint16_t pid,
                                    uint8_t num_configs = 1) {
  std::string d = {18, 1, 0x00, 0x02, static_cast<char>(cls), 0, 0, 64};
  d += static_cast<char>(vid & 0xff);
  d += static_cast<char>(vid >> 8);
  d += static_cast<char>(pid & 0xff);
  d += static_cast<char>(pid >> 8);
  d += std::string{0x00, 0x01, 1, 2, 3, static_cast<char>(num_configs)};
  return d;
}

inline std::string InterfaceDescriptor(uint8_t number, uint8_t alt, uint8_t cls, uint8_t sub,
                                       uint8_t proto, uint8_t string_index = 0) {
  return std::string{9,
                     4,
                     static_cast<char>(number),
                     static_cast<char>(alt),
                     2,
                     static_cast<char>(cls),
                     static_cast<char>(sub),
                     static_cast<char>(proto),
                     static_cast<char>(string_index)};
}

inline std::string EndpointDescriptor(uint8_t address) {
  return std::string{7, 5, static_cast<char>(address), 2, 0, 2, 0};
}

// A configuration descriptor followed by `body`, wTotalLength computed.
inline std::string ConfigDescriptor(uint8_t value, uint8_t num_interfaces,
                                    const std::string& body) {
  const std::size_t total = 9 + body.size();
  std::string c = {9,
                   2,
                   static_cast<char>(total & 0xff),
                   static_cast<char>(total >> 8),
                   static_cast<char>(num_interfaces),
                   static_cast<char>(value),
                   0,
                   static_cast<char>(0x80),
                   50};
  return c + body;
}

inline std::string KeyboardDescriptors() {
  return DeviceDescriptor(0, 0x046d, 0xc31c) +
         ConfigDescriptor(1, 1,
                          InterfaceDescriptor(0, 0, 0x03, 0x01, 0x01) + EndpointDescriptor(0x81));
}

inline std::string StickDescriptors() {
  return DeviceDescriptor(0, 0x0781, 0x5581) +
         ConfigDescriptor(1, 1,
                          InterfaceDescriptor(0, 0, 0x08, 0x06, 0x50) + EndpointDescriptor(0x81) +
                              EndpointDescriptor(0x02));
}

// A keyboard with a storage interface (USBGuard issue #67).
inline std::string CompositeDescriptors() {
  return DeviceDescriptor(0, 0x1234, 0x5678) +
         ConfigDescriptor(1, 2,
                          InterfaceDescriptor(0, 0, 0x03, 0x01, 0x01) + EndpointDescriptor(0x81) +
                              InterfaceDescriptor(1, 0, 0x08, 0x06, 0x50) +
                              EndpointDescriptor(0x82) + EndpointDescriptor(0x03));
}

// ---- fixture tree -------------------------------------------------------------

// A sysfs tree shaped like the kernel's: devices under /devices/..., with
// /bus/usb/devices and /class/block symlinks to them.
class FixtureTree {
 public:
  static constexpr const char* kController = "/devices/pci0000:00/0000:00:14.0";

  FixtureTree() {
    Mkdir("/bus/usb/devices");
    Mkdir("/class/block");
    WriteFile("/bus/usb/drivers_probe", "");
  }

  // The sysfs root.
  std::string root() const { return dir_.path() + "/sys"; }
  std::string dev_root() const { return dir_.path() + "/dev"; }

  // "usb1" with the kernel's defaults (authorized_default=1).
  void AddRootHub(int bus) {
    const std::string name = "usb" + std::to_string(bus);
    const std::string dev = std::string(kController) + "/" + name;
    Mkdir(dev);
    WriteFile(dev + "/authorized_default", "1\n");
    WriteFile(dev + "/interface_authorized_default", "1\n");
    WriteFile(dev + "/authorized", "1\n");
    Link("/bus/usb/devices/" + name, dev);
  }

  // The sysfs path of device `name` ("1-2.3") under its root hub.
  static std::string DevicePath(const std::string& name) {
    const std::string bus = name.substr(0, name.find('-'));
    std::string path = std::string(kController) + "/usb" + bus;
    // Parents: "1-2" for "1-2.3", and so on.
    std::string prefix = name.substr(0, name.find('.'));
    path += "/" + prefix;
    std::size_t pos = prefix.size();
    while (pos < name.size()) {
      const std::size_t next = name.find('.', pos + 1);
      prefix = name.substr(0, next);
      path += "/" + prefix;
      pos = next == std::string::npos ? name.size() : next;
    }
    return path;
  }

  struct DeviceSpec {
    std::string descriptors;
    std::string vid = "1234";
    std::string pid = "5678";
    std::string device_class = "00";
    std::string serial = "SERIAL1";
    std::string manufacturer = "ACME";
    std::string product = "Thing";
    bool authorized = false;
    std::string devnum = "5";
  };

  void AddDevice(const std::string& name, const DeviceSpec& spec) {
    const std::string dev = DevicePath(name);
    Mkdir(dev);
    WriteFile(dev + "/authorized", spec.authorized ? "1\n" : "0\n");
    WriteFile(dev + "/idVendor", spec.vid + "\n");
    WriteFile(dev + "/idProduct", spec.pid + "\n");
    WriteFile(dev + "/bDeviceClass", spec.device_class + "\n");
    WriteFile(dev + "/bDeviceSubClass", "00\n");
    WriteFile(dev + "/bDeviceProtocol", "00\n");
    WriteFile(dev + "/serial", spec.serial + "\n");
    WriteFile(dev + "/manufacturer", spec.manufacturer + "\n");
    WriteFile(dev + "/product", spec.product + "\n");
    WriteFile(dev + "/devnum", spec.devnum + "\n");
    WriteFile(dev + "/descriptors", spec.descriptors);
    Link("/bus/usb/devices/" + name, dev);
  }

  // Interface "<device>:<config>.<number>", as the kernel creates it when
  // the device is configured.
  void AddInterface(const std::string& device, int config, int number, const std::string& cls,
                    const std::string& sub, const std::string& proto, bool authorized,
                    const std::string& label = "") {
    const std::string name = device + ":" + std::to_string(config) + "." + std::to_string(number);
    const std::string dir = DevicePath(device) + "/" + name;
    Mkdir(dir);
    WriteFile(dir + "/authorized", authorized ? "1\n" : "0\n");
    WriteFile(dir + "/bInterfaceNumber", "0" + std::to_string(number) + "\n");
    WriteFile(dir + "/bInterfaceClass", cls + "\n");
    WriteFile(dir + "/bInterfaceSubClass", sub + "\n");
    WriteFile(dir + "/bInterfaceProtocol", proto + "\n");
    if (!label.empty()) WriteFile(dir + "/interface", label + "\n");
    Link("/bus/usb/devices/" + name, dir);
  }

  // A SCSI disk (and partitions) below interface 1.0 of `device` (created
  // as an authorized storage interface when missing). Returns the disk's
  // devpath.
  std::string AddDisk(const std::string& device, const std::string& disk,
                      const std::vector<std::string>& partitions = {}) {
    const std::string interface = device + ":1.0";
    if (!std::filesystem::exists(root() + DevicePath(device) + "/" + interface)) {
      AddInterface(device, 1, 0, "08", "06", "50", true);
    }
    const std::string base =
        DevicePath(device) + "/" + interface + "/host6/target6:0:0/6:0:0:0/block/" + disk;
    Mkdir(base);
    WriteFile(base + "/ro", "0\n");
    WriteFile(base + "/uevent", "");
    Link("/class/block/" + disk, base);
    for (const std::string& p : partitions) {
      Mkdir(base + "/" + p);
      WriteFile(base + "/" + p + "/ro", "0\n");
      WriteFile(base + "/" + p + "/uevent", "");
      Link("/class/block/" + p, base + "/" + p);
    }
    return base;
  }

  void Remove(const std::string& path) { std::filesystem::remove_all(root() + path); }
  bool Exists(const std::string& path) const {
    return std::filesystem::exists(std::filesystem::symlink_status(root() + path));
  }

  std::string Read(const std::string& path) const {
    std::ifstream in(root() + path, std::ios::binary);
    if (!in) throw std::runtime_error("fixture: cannot read " + path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  void WriteFile(const std::string& path, const std::string& content) const {
    std::ofstream out(root() + path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("fixture: cannot write " + path);
    out << content;
  }

 private:
  void Mkdir(const std::string& path) const { std::filesystem::create_directories(root() + path); }
  void Link(const std::string& link, const std::string& target) const {
    std::filesystem::create_directory_symlink(
        std::filesystem::relative(root() + target,
                                  std::filesystem::path(root() + link).parent_path()),
        root() + link);
  }

  TempDir dir_;
};

// ---- fakes ----------------------------------------------------------------

// Everything the backend did, in order, across the fakes.
class Journal {
 public:
  void Add(std::string entry) {
    std::lock_guard lock(mu_);
    entries_.push_back(std::move(entry));
  }
  std::vector<std::string> entries() const {
    std::lock_guard lock(mu_);
    return entries_;
  }
  // Only the "write ..." entries.
  std::vector<std::string> writes() const {
    std::vector<std::string> out;
    for (const std::string& e : entries()) {
      if (e.starts_with("write ")) out.push_back(e.substr(6));
    }
    return out;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    entries_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> entries_;
};

// The real implementation over a fixture tree, recording writes ("write
// <path>=<value>") and failing those to chosen paths, as a kernel refusing
// them would (tests run as root, so file modes cannot make writes fail).
class RecordingSysfs final : public Sysfs {
 public:
  RecordingSysfs(std::string root, Journal& journal) : real_(std::move(root)), journal_(journal) {}

  void FailWrites(const std::string& path) {
    std::lock_guard lock(mu_);
    failing_.insert(path);
  }
  // Writes to `path` succeed but change nothing (a kernel that ignores them).
  void IgnoreWrites(const std::string& path) {
    std::lock_guard lock(mu_);
    ignored_.insert(path);
  }

  Result<std::string> Read(std::string_view path, std::size_t max_bytes) override {
    return real_.Read(path, max_bytes);
  }
  // Runs before each write, outside the lock (to unplug a device between
  // the agent's look and its write, say).
  void BeforeWrite(std::function<void(std::string_view path)> hook) {
    std::lock_guard lock(mu_);
    before_write_ = std::move(hook);
  }

  // Runs after each successful write, as the kernel reacts to it (say,
  // creating a device's interfaces when it is authorized).
  void AfterWrite(std::function<void(std::string_view path, std::string_view value)> hook) {
    std::lock_guard lock(mu_);
    after_write_ = std::move(hook);
  }

  Status Write(std::string_view path, std::string_view value) override {
    journal_.Add("write " + std::string(path) + "=" + std::string(value));
    std::function<void(std::string_view)> hook;
    std::function<void(std::string_view, std::string_view)> after;
    {
      std::lock_guard lock(mu_);
      hook = before_write_;
      after = after_write_;
    }
    if (hook) hook(path);
    {
      std::lock_guard lock(mu_);
      if (failing_.contains(std::string(path))) {
        return MakeError(ErrorCode::kIo, "write /sys" + std::string(path) + ": Invalid argument");
      }
      if (ignored_.contains(std::string(path))) return Status::Ok();
    }
    Status s = real_.Write(path, value);
    if (s.ok() && after) after(path, value);
    return s;
  }
  Result<std::vector<std::string>> List(std::string_view dir) override { return real_.List(dir); }
  bool Exists(std::string_view path) override { return real_.Exists(path); }
  Result<std::string> RealPath(std::string_view path) override { return real_.RealPath(path); }

 private:
  SysfsImpl real_;
  Journal& journal_;
  std::mutex mu_;
  std::set<std::string> failing_;
  std::set<std::string> ignored_;
  std::function<void(std::string_view)> before_write_;
  std::function<void(std::string_view, std::string_view)> after_write_;
};

// Synthetic uevents. Push() queues a batch; Receive() hands them out in
// order and blocks when there is none.
class FakeUeventSource final : public UeventSource {
 public:
  explicit FakeUeventSource(Journal& journal) : journal_(journal) {}

  void Push(UeventBatch batch) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(batch));
    }
    cv_.notify_all();
  }
  void PushMessages(std::vector<std::string> messages) {
    UeventBatch b;
    b.messages = std::move(messages);
    Push(std::move(b));
  }

  // Waits until every pushed batch was taken and the backend is waiting
  // for more, i.e. it has handled all of them.
  bool WaitIdle() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [this] { return queue_.empty() && waiting_; });
  }

  Status Open() override {
    journal_.Add("open uevent socket");
    std::lock_guard lock(mu_);
    interrupted_ = false;
    open_ = true;
    return Status::Ok();
  }
  Result<UeventBatch> Receive() override {
    std::unique_lock lock(mu_);
    waiting_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return interrupted_ || !queue_.empty(); });
    waiting_ = false;
    UeventBatch b;
    if (interrupted_) {
      b.stopped = true;
      return b;
    }
    b = std::move(queue_.front());
    queue_.pop_front();
    return b;
  }
  void Interrupt() override {
    {
      std::lock_guard lock(mu_);
      interrupted_ = true;
    }
    cv_.notify_all();
  }
  void Close() override {
    journal_.Add("close uevent socket");
    std::lock_guard lock(mu_);
    open_ = false;
  }
  bool is_open() {
    std::lock_guard lock(mu_);
    return open_;
  }

 private:
  Journal& journal_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<UeventBatch> queue_;
  bool interrupted_ = false;
  bool waiting_ = false;
  bool open_ = false;
};

class FakeBlockGuard final : public BlockGuard {
 public:
  explicit FakeBlockGuard(Journal& journal) : journal_(journal) {}
  void Fail(const std::string& name) {
    std::lock_guard lock(mu_);
    failing_.insert(name);
  }
  Status SetReadOnly(std::string_view name) override {
    journal_.Add("readonly " + std::string(name));
    std::lock_guard lock(mu_);
    if (failing_.contains(std::string(name))) {
      return MakeError(ErrorCode::kIo,
                       "BLKROSET /dev/" + std::string(name) + ": Permission denied");
    }
    return Status::Ok();
  }

 private:
  Journal& journal_;
  std::mutex mu_;
  std::set<std::string> failing_;
};

// "add@/devices/...\0ACTION=add\0DEVPATH=...\0SUBSYSTEM=...\0..." as the
// kernel sends it.
inline std::string KernelUevent(const std::string& action, const std::string& devpath,
                                const std::string& subsystem, const std::string& devtype,
                                uint64_t seqnum = 1, const std::string& devname = "") {
  std::string m = action + "@" + devpath;
  m.push_back('\0');
  auto field = [&m](const std::string& kv) {
    m += kv;
    m.push_back('\0');
  };
  field("ACTION=" + action);
  field("DEVPATH=" + devpath);
  field("SUBSYSTEM=" + subsystem);
  if (!devtype.empty()) field("DEVTYPE=" + devtype);
  if (!devname.empty()) field("DEVNAME=" + devname);
  field("SEQNUM=" + std::to_string(seqnum));
  return m;
}

}  // namespace mamori::testing
