#include "agent/platform/linux/sysfs_device_backend.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <optional>
#include <utility>

#include "agent/platform/linux/usb_descriptors.h"
#include "common/base/hex.h"
#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "common/device/usb_class.h"
#include "common/device/usb_ids.h"

namespace mamori {
namespace {

constexpr std::string_view kDevicesDir = "/bus/usb/devices";
constexpr std::string_view kDriversProbe = "/bus/usb/drivers_probe";
constexpr std::string_view kBlockClassDir = "/class/block";
// Written to a block device's `uevent` once it may be mounted: a synthetic
// "change" uevent (Documentation/ABI/testing/sysfs-uevent, kernel 4.13+)
// carrying SYNTH_ARG_MAMORI=released, on which the shipped udev rule
// (packaging/linux/udev/) stops hiding the disk from automounters. The
// UUID only groups synthetic uevents; keys and values must be alphanumeric.
constexpr std::string_view kReleaseUevent =
    "change 6d616d6f-7269-4000-8000-000000000001 MAMORI=released";

// True when `path` lies strictly below `dir`.
bool IsBelow(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

std::string DeviceDir(std::string_view name) {
  return std::string(kDevicesDir) + "/" + std::string(name);
}

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 4) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "1-2.3" -> {1, 2, 3}; nullopt if not a USB device name.
std::optional<std::vector<unsigned>> UsbNameParts(std::string_view name) {
  if (name.size() > 64) return std::nullopt;
  const std::size_t dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::vector<unsigned> parts;
  auto push = [&parts](std::string_view digits) {
    if (!AllDigits(digits)) return false;
    unsigned v = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), v);
    parts.push_back(v);
    return true;
  };
  if (!push(name.substr(0, dash))) return std::nullopt;
  std::string_view rest = name.substr(dash + 1);
  for (;;) {
    const std::size_t dot = rest.find('.');
    if (!push(rest.substr(0, dot))) return std::nullopt;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  return parts;
}

std::string_view Basename(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::optional<uint8_t> ParseHexByte(std::string_view s) {
  if (s.empty() || s.size() > 2) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    const int d = HexDigit(c);
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<unsigned>(d);
  }
  return static_cast<uint8_t>(v);
}

bool Contains(const std::vector<DeviceClass>& v, DeviceClass c) {
  return std::find(v.begin(), v.end(), c) != v.end();
}

// "1-2:1.0" -> {1, 0}.
std::optional<std::pair<unsigned, unsigned>> InterfaceNumbers(std::string_view name) {
  const std::size_t colon = name.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view rest = name.substr(colon + 1);
  const std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view c = rest.substr(0, dot);
  const std::string_view i = rest.substr(dot + 1);
  if (!AllDigits(c) || !AllDigits(i)) return std::nullopt;
  unsigned cv = 0;
  unsigned iv = 0;
  std::from_chars(c.data(), c.data() + c.size(), cv);
  std::from_chars(i.data(), i.data() + i.size(), iv);
  return std::pair{cv, iv};
}

}  // namespace

bool IsUsbDeviceName(std::string_view name) { return UsbNameParts(name).has_value(); }

bool IsRootHubName(std::string_view name) {
  return name.size() > 3 && name.starts_with("usb") && AllDigits(name.substr(3));
}

bool UsbNameParentsFirst(std::string_view a, std::string_view b) {
  auto pa = UsbNameParts(a);
  auto pb = UsbNameParts(b);
  if (pa && pb) {
    if (*pa != *pb) return *pa < *pb;
    return a < b;
  }
  if (pa.has_value() != pb.has_value()) return pa.has_value();
  return a < b;
}

SysfsDeviceBackend::SysfsDeviceBackend(std::unique_ptr<Sysfs> sysfs,
                                       std::unique_ptr<UeventSource> uevents,
                                       std::unique_ptr<BlockGuard> block_guard, bool audit_only,
                                       UsbDriverClasses drivers,
                                       std::shared_ptr<spdlog::logger> logger)
    : sysfs_(std::move(sysfs)),
      uevents_(std::move(uevents)),
      block_guard_(std::move(block_guard)),
      audit_only_(audit_only),
      drivers_(std::move(drivers)),
      log_(logger ? std::move(logger) : GetLogger("linux-devices")) {}

SysfsDeviceBackend::~SysfsDeviceBackend() { Stop(); }

Status SysfsDeviceBackend::Start(std::function<void()> on_change) {
  std::lock_guard lifecycle(lifecycle_mu_);
  if (listener_.joinable()) {
    return MakeError(ErrorCode::kFailedPrecondition, "linux-sysfs backend already started");
  }
  // The socket first: every uevent from here on is queued by the kernel,
  // so nothing that happens during the root hub writes or the initial scan
  // is missed.
  if (Status s = uevents_->Open(); !s.ok()) {
    return MakeError(s.error().code, "kernel uevent socket: " + s.error().message);
  }
  if (audit_only_) {
    log_->info("audit-only mode: USB authorization is left as it is; nothing is written");
  } else if (Status s = LockAllRootHubs(); !s.ok()) {
    uevents_->Close();
    return s;
  }
  {
    std::lock_guard lock(mu_);
    on_change_ = std::move(on_change);
    initial_scan_done_ = false;
    notify_pending_ = false;
  }
  listener_ = std::jthread([this] { ListenLoop(); });
  return Status::Ok();
}

void SysfsDeviceBackend::Stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  if (!listener_.joinable()) return;
  uevents_->Interrupt();
  listener_.join();
  listener_ = std::jthread();
  uevents_->Close();
  std::lock_guard lock(mu_);
  on_change_ = nullptr;
  // Deliberately nothing else: authorized_default stays 0 and devices stay
  // as they are (fail closed). See docs/operator-guide.en.md, "How the Linux
  // agent enforces".
}

void SysfsDeviceBackend::ListenLoop() {
  for (;;) {
    Result<UeventBatch> batch = uevents_->Receive();
    if (!batch.ok()) {
      // New devices stay unauthorized (authorized_default=0) but are no
      // longer decided: loud, so monitoring sees it.
      log_->critical(
          "kernel uevent socket failed: {}; new USB devices stay blocked until the "
          "agent restarts",
          batch.error().message);
      return;
    }
    if (batch->stopped) return;
    try {
      HandleBatch(*batch);
    } catch (const std::exception& e) {
      log_->critical("handling uevents failed: {}", e.what());
    }
  }
}

void SysfsDeviceBackend::HandleBatch(const UeventBatch& batch) {
  bool changed = false;
  if (batch.overflow) {
    log_->warn("kernel uevents were lost (receive buffer overflow); rescanning all devices");
    changed = true;
    if (!audit_only_) {
      if (Status s = LockAllRootHubs(); !s.ok()) log_->error("{}", s.error().message);
      std::map<std::string, std::string, std::less<>> read_only;
      {
        std::lock_guard lock(mu_);
        read_only = read_only_;
      }
      for (const auto& [device, devpath] : read_only) {
        if (Status s = ProtectPresentBlockDevices(devpath); !s.ok()) {
          FailReadOnly(device, s.error().message, /*from_apply=*/false);
        }
      }
    }
  }
  for (const std::string& message : batch.messages) {
    Result<Uevent> ev = ParseUevent(message);
    if (!ev.ok()) {
      log_->debug("ignored a uevent: {}", ev.error().message);
      continue;
    }
    if (ev->subsystem == "usb") {
      changed = true;
      const std::string_view name = Basename(ev->devpath);
      // A controller that appears later (a dock, a Thunderbolt port) brings
      // root hubs with the kernel's default policy.
      if (ev->action == "add" && ev->devtype == "usb_device" && IsRootHubName(name) &&
          !audit_only_) {
        if (Status s = LockRootHub(std::string(name)); !s.ok()) {
          log_->error("new root hub {} stays at the kernel's default authorization: {}", name,
                      s.error().message);
        } else {
          log_->info("new root hub {}: authorized_default=0", name);
        }
      }
    } else if (ev->subsystem == "block" && (ev->devtype == "disk" || ev->devtype == "partition") &&
               (ev->action == "add" || ev->action == "change")) {
      OnBlockUevent(*ev);
    }
  }
  if (changed) Notify();
}

void SysfsDeviceBackend::OnBlockUevent(const Uevent& ev) {
  std::string owner;
  bool allowed = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& [device, devpath] : read_only_) {
      if (IsBelow(ev.devpath, devpath)) {
        owner = device;
        break;
      }
    }
    for (const auto& [device, devpath] : allowed_) {
      if (owner.empty() && IsBelow(ev.devpath, devpath)) allowed = true;
    }
  }
  const std::string name(Basename(ev.devpath));
  // Only on "add": the release is itself a "change", and a disk released
  // once stays released in udev's database until it is removed.
  const bool added = ev.action == "add";
  if (owner.empty()) {
    // Audit-only decides nothing, so it holds nothing back either.
    const bool usb = ev.devpath.find("/usb") != std::string::npos;
    if (added && (allowed || (audit_only_ && usb))) ReleaseToAutomounters(name);
    return;
  }
  if (Status s = block_guard_->SetReadOnly(name); !s.ok()) {
    FailReadOnly(owner,
                 "could not make block device " + SanitizeDeviceString(name) +
                     " read-only: " + s.error().message,
                 /*from_apply=*/false);
    return;
  }
  log_->info("block device {} of USB device {} is read-only", SanitizeDeviceString(name), owner);
  if (added) ReleaseToAutomounters(name);
}

void SysfsDeviceBackend::ReleaseToAutomounters(const std::string& block) {
  const std::string path = std::string(kBlockClassDir) + "/" + block + "/uevent";
  if (Status s = sysfs_->Write(path, kReleaseUevent); !s.ok()) {
    // Not an enforcement failure: the disk stays protected, only hidden.
    log_->warn("block device {} stays hidden from automounters: {}", SanitizeDeviceString(block),
               s.error().message);
    return;
  }
  log_->info("block device {} released to automounters", SanitizeDeviceString(block));
}

void SysfsDeviceBackend::Notify() {
  std::lock_guard lock(mu_);
  if (!initial_scan_done_) {
    notify_pending_ = true;
    return;
  }
  // Called under mu_ so that Stop (which clears it under mu_) guarantees no
  // call after it returns; on_change must not block.
  if (on_change_) on_change_();
}

Status SysfsDeviceBackend::WriteVerified(const std::string& path, std::string_view value) {
  if (Status s = sysfs_->Write(path, value); !s.ok()) return s;
  auto now = sysfs_->Read(path, 16);
  if (!now.ok()) return now.error();
  if (TrimNewline(*now) != value) {
    return MakeError(ErrorCode::kIo, "wrote " + std::string(value) + " to " + path +
                                         " but it reads " +
                                         SanitizeDeviceString(TrimNewline(*now), 16));
  }
  return Status::Ok();
}

Status SysfsDeviceBackend::LockRootHub(const std::string& hub) {
  const std::string dir = DeviceDir(hub);
  if (Status s = WriteVerified(dir + "/authorized_default", "0"); !s.ok()) {
    return MakeError(s.error().code,
                     "cannot make root hub " + hub + " fail closed: " + s.error().message);
  }
  const std::string intf = dir + "/interface_authorized_default";
  if (!sysfs_->Exists(intf)) {
    // Kernels before 4.4 lack it; devices are then still blocked as a whole.
    log_->warn("root hub {} has no interface_authorized_default (kernel older than 4.4)", hub);
    return Status::Ok();
  }
  if (Status s = WriteVerified(intf, "0"); !s.ok()) {
    return MakeError(s.error().code,
                     "cannot make root hub " + hub + " fail closed: " + s.error().message);
  }
  return Status::Ok();
}

Status SysfsDeviceBackend::LockAllRootHubs() {
  auto names = sysfs_->List(kDevicesDir);
  if (!names.ok()) {
    if (names.error().code == ErrorCode::kNotFound) {
      log_->warn("no USB subsystem ({} is missing)", kDevicesDir);
      return Status::Ok();
    }
    return names.error();
  }
  int locked = 0;
  for (const std::string& name : *names) {
    if (!IsRootHubName(name)) continue;
    if (Status s = LockRootHub(name); !s.ok()) return s;
    ++locked;
  }
  log_->info("{} USB root hub(s) set to authorized_default=0 (fail closed)", locked);
  return Status::Ok();
}

std::vector<SysfsDeviceBackend::Interface> SysfsDeviceBackend::ReadInterfaces(
    const std::string& device, const UsbDescriptors* desc, const DeviceFacts* facts,
    const Labels* labels) {
  std::vector<Interface> out;
  auto names = sysfs_->List(DeviceDir(device));
  if (!names.ok()) return out;
  const std::string prefix = device + ":";
  for (const std::string& name : *names) {
    const auto numbers = InterfaceNumbers(name);
    if (!name.starts_with(prefix) || !numbers) continue;
    Interface intf;
    intf.name = name;
    if (desc != nullptr && facts != nullptr && labels != nullptr) {
      intf.cls = ClassifyInterfaceNumber(*desc, *facts, numbers->first, numbers->second, *labels);
      for (const UsbInterfaceDescriptor& d : desc->interfaces) {
        if (d.configuration_value == numbers->first && d.number == numbers->second) {
          intf.alternates.push_back(ClassifyFunction(*desc, *facts, d, *labels));
        }
      }
      out.push_back(std::move(intf));
      continue;
    }
    const std::string dir = DeviceDir(device) + "/" + name;
    auto byte = [&](const char* attr) -> std::optional<uint8_t> {
      auto v = sysfs_->Read(dir + "/" + attr, 16);
      return v.ok() ? ParseHexByte(TrimNewline(*v)) : std::nullopt;
    };
    const auto cls = byte("bInterfaceClass");
    const auto sub = byte("bInterfaceSubClass");
    const auto proto = byte("bInterfaceProtocol");
    auto label = sysfs_->Read(dir + "/interface", kMaxSysfsAttributeBytes);
    // An interface that cannot be read is not known to be harmless.
    intf.cls = cls && sub && proto ? ClassifyUsbInterfaceNamed(
                                         *cls, *sub, *proto, label.ok() ? TrimNewline(*label) : "")
                                   : DeviceClass::kUnspecified;
    out.push_back(std::move(intf));
  }
  return out;
}

DeviceClass SysfsDeviceBackend::ClassifyFunction(const UsbDescriptors& desc,
                                                 const DeviceFacts& facts,
                                                 const UsbInterfaceDescriptor& intf,
                                                 const Labels& labels) const {
  std::string_view name;
  if (auto it = labels.find({intf.configuration_value, intf.number}); it != labels.end()) {
    // A string the device announced but that could not be read might be
    // "MTP": the interface is treated as such.
    if (!it->second.readable && UsbInterfaceNeedsMoreThanItsClass(intf.cls)) {
      return DeviceClass::kStillImage;
    }
    name = it->second.text;
  }
  DeviceClass c = ClassifyUsbInterfaceNamed(intf.cls, intf.subclass, intf.protocol, name);
  if (c == DeviceClass::kOther && UsbInterfaceNeedsMoreThanItsClass(intf.cls)) {
    const auto match = drivers_.Classify(UsbInterfaceModalias(
        facts.vendor_id, facts.product_id, desc.bcd_device, desc.device_class, desc.device_subclass,
        desc.device_protocol, intf.cls, intf.subclass, intf.protocol, intf.number));
    if (match) {
      c = match->cls;
    } else if (IsFingerprintSensorVendor(facts.vendor_id)) {
      c = DeviceClass::kBiometric;
    }
  }
  if (c == DeviceClass::kMassStorage &&
      IsMemoryCardReader(facts.vendor_id, facts.product_id, facts.product)) {
    c = DeviceClass::kCardReader;
  }
  return c;
}

DeviceClass SysfsDeviceBackend::ClassifyInterfaceNumber(const UsbDescriptors& desc,
                                                        const DeviceFacts& facts, unsigned config,
                                                        unsigned number,
                                                        const Labels& labels) const {
  DeviceClass worst = DeviceClass::kUnspecified;
  for (const UsbInterfaceDescriptor& d : desc.interfaces) {
    if (d.configuration_value != config || d.number != number) continue;
    const DeviceClass c = ClassifyFunction(desc, facts, d, labels);
    if (worst == DeviceClass::kUnspecified || UsbClassSensitivity(c) < UsbClassSensitivity(worst)) {
      worst = c;
    }
  }
  return worst;
}

bool SysfsDeviceBackend::RootHubHoldsInterfacesBack(const std::string& name) {
  const std::string hub = "usb" + name.substr(0, name.find('-'));
  auto v = sysfs_->Read(DeviceDir(hub) + "/interface_authorized_default", 16);
  return v.ok() && TrimNewline(*v) == "0";
}

SysfsDeviceBackend::Labels SysfsDeviceBackend::ReadLabels(const std::string& name,
                                                          const UsbDescriptors& desc,
                                                          const std::string& descriptor_hash) {
  const std::string dir = DeviceDir(name);
  auto devnum_text = sysfs_->Read(dir + "/devnum", 16);
  const std::string devnum = devnum_text.ok() ? std::string(TrimNewline(*devnum_text)) : "";
  {
    std::lock_guard lock(mu_);
    // Same plug-in: a device found blocked must not be configured again.
    if (auto it = labels_.find(name); it != labels_.end() && it->second.devnum == devnum &&
                                      it->second.descriptor_hash == descriptor_hash) {
      return it->second.labels;
    }
  }

  const auto interface_dirs = [&] {
    std::vector<std::string> found;
    if (auto names = sysfs_->List(dir); names.ok()) {
      for (std::string& n : *names) {
        if (n.starts_with(name + ":") && InterfaceNumbers(n)) found.push_back(std::move(n));
      }
    }
    return found;
  };
  std::vector<std::string> present = interface_dirs();
  if (present.empty() && !audit_only_) {
    auto authorized = sysfs_->Read(dir + "/authorized", 16);
    if (authorized.ok() && TrimNewline(*authorized) == "0" && RootHubHoldsInterfacesBack(name)) {
      // Interfaces come up unauthorized: no driver binds before the
      // decision, and the decision de-authorizes the device if it blocks.
      if (Status s = WriteVerified(dir + "/authorized", "1"); s.ok()) {
        log_->info("device {}: configured without its interfaces to read their names", name);
        present = interface_dirs();
      } else {
        log_->warn("device {}: cannot configure it to read interface names: {}", name,
                   s.error().message);
      }
    }
  }

  Labels labels;
  for (const std::string& intf : present) {
    const auto numbers = InterfaceNumbers(intf);
    uint8_t string_index = 0;
    for (const UsbInterfaceDescriptor& d : desc.interfaces) {
      if (d.configuration_value == numbers->first && d.number == numbers->second &&
          d.string_index != 0) {
        string_index = d.string_index;
      }
    }
    Label label;
    auto text = sysfs_->Read(dir + "/" + intf + "/interface", kMaxSysfsAttributeBytes);
    if (text.ok()) {
      label.text = std::string(TrimNewline(*text));
    } else {
      label.readable = string_index == 0;
    }
    labels[{static_cast<uint8_t>(numbers->first), static_cast<uint8_t>(numbers->second)}] =
        std::move(label);
  }
  // Interfaces of the device that should be there and are not: their
  // names are unknown.
  if (present.empty()) {
    for (const UsbInterfaceDescriptor& d : desc.interfaces) {
      if (d.string_index != 0) labels[{d.configuration_value, d.number}].readable = false;
    }
    return labels;  // not kept: the next look tries again
  }
  std::lock_guard lock(mu_);
  labels_[name] = LabelCache{devnum, descriptor_hash, labels};
  return labels;
}

Result<ObservedDevice> SysfsDeviceBackend::ReadDevice(const std::string& name) {
  const std::string dir = DeviceDir(name);
  ObservedDevice ob;
  ob.device_id = name;
  DeviceIdentity& id = ob.identity;
  id.bus_path = name;

  // The identity comes from what is stable whether or not the device is
  // authorized: an unauthorized device has no interface directories, so
  // interface classes come from the raw descriptors.
  std::optional<UsbDescriptors> desc;
  auto raw = sysfs_->Read(dir + "/descriptors", kMaxSysfsDescriptorBytes);
  if (raw.ok()) {
    id.descriptor_hash = DescriptorHash(*raw);
    auto parsed = ParseUsbDescriptors(*raw);
    if (parsed.ok()) {
      desc = std::move(*parsed);
      if (!desc->complete) {
        log_->debug("device {}: descriptors end early; using what the kernel uses", name);
      }
    } else {
      log_->warn("device {}: {}", name, parsed.error().message);
      // The kernel enumerated what we cannot parse: what it would let
      // drivers see is not what we would decide on.
      ob.unidentified = "descriptors rejected: " + parsed.error().message;
    }
  } else if (raw.error().code == ErrorCode::kNotFound && !sysfs_->Exists(dir)) {
    return raw.error();  // unplugged during the scan
  } else {
    ob.unidentified = "descriptors unreadable: " + raw.error().message;
  }
  // The kernel's device number: a new one on every plug-in (hub.c
  // choose_devnum), so a device replaced at the same port between two
  // looks is a new instance.
  if (auto devnum = sysfs_->Read(dir + "/devnum", 16); devnum.ok()) {
    ob.instance = std::string(TrimNewline(*devnum));
  } else if (ob.unidentified.empty()) {
    ob.unidentified = "devnum unreadable: " + devnum.error().message;
  }

  auto text = [&](const char* attr) -> std::string {
    auto v = sysfs_->Read(dir + "/" + attr, kMaxSysfsAttributeBytes);
    return v.ok() ? std::string(TrimNewline(*v)) : std::string();
  };
  auto hex_byte = [&](const char* attr, uint8_t fallback) -> uint8_t {
    auto v = ParseHexByte(TrimNewline(text(attr)));
    return v ? *v : fallback;
  };
  auto usb_id = ParseUsbId(text("idVendor"));
  id.vendor_id = usb_id ? *usb_id : (desc ? desc->vendor_id : 0);
  const bool vendor_read = usb_id.has_value();
  usb_id = ParseUsbId(text("idProduct"));
  id.product_id = usb_id ? *usb_id : (desc ? desc->product_id : 0);
  if (ob.unidentified.empty() && (!vendor_read || !usb_id)) {
    // Attributes going away one by one: a device half-way through its
    // removal (or a torn read) is not the device it was.
    ob.unidentified = "idVendor/idProduct unreadable (device being removed?)";
  } else if (ob.unidentified.empty() && desc &&
             (desc->vendor_id != id.vendor_id || desc->product_id != id.product_id)) {
    ob.unidentified = "idVendor:idProduct " + id.VidPid() + " differ from the descriptors' " +
                      FormatVidPid(desc->vendor_id, desc->product_id);
  }
  id.serial = text("serial");
  id.manufacturer = text("manufacturer");
  id.product = text("product");
  const uint8_t dev_class = hex_byte("bDeviceClass", desc ? desc->device_class : 0);
  const uint8_t dev_sub = hex_byte("bDeviceSubClass", desc ? desc->device_subclass : 0);
  const uint8_t dev_proto = hex_byte("bDeviceProtocol", desc ? desc->device_protocol : 0);

  auto add = [&id](DeviceClass c) {
    if (!Contains(id.interface_classes, c)) id.interface_classes.push_back(c);
  };
  if (desc) {
    const DeviceFacts facts{id.vendor_id, id.product_id, id.product};
    Labels labels;
    const bool needs_labels = std::any_of(
        desc->interfaces.begin(), desc->interfaces.end(),
        [](const UsbInterfaceDescriptor& i) { return UsbInterfaceNeedsMoreThanItsClass(i.cls); });
    if (needs_labels) labels = ReadLabels(name, *desc, id.descriptor_hash);
    // Every alternate setting of every configuration: a configuration or
    // setting the device switches to later must not be a way around policy.
    for (const UsbInterfaceDescriptor& i : desc->interfaces) {
      add(ClassifyFunction(*desc, facts, i, labels));
    }
  } else {
    for (const Interface& i : ReadInterfaces(name)) add(i.cls);
  }
  id.device_class = ClassifyUsbDevice(dev_class, dev_sub, dev_proto, id.interface_classes);
  if (!ob.unidentified.empty()) {
    if (!sysfs_->Exists(dir)) return MakeError(ErrorCode::kNotFound, "device " + name + " is gone");
    log_->warn("device {} cannot be identified: {}", name, ob.unidentified);
  }
  return ob;
}

std::vector<ObservedDevice> SysfsDeviceBackend::Enumerate() {
  std::vector<std::string> names;
  if (auto listed = sysfs_->List(kDevicesDir); listed.ok()) {
    for (std::string& n : *listed) {
      if (IsUsbDeviceName(n)) names.push_back(std::move(n));
    }
  } else if (listed.error().code != ErrorCode::kNotFound) {
    log_->error("cannot list USB devices: {}", listed.error().message);
  }
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return UsbNameParentsFirst(a, b); });

  std::vector<ObservedDevice> out;
  out.reserve(names.size());
  for (const std::string& name : names) {
    Result<ObservedDevice> d = ReadDevice(name);
    if (!d.ok()) {
      log_->debug("device {} vanished during the scan: {}", name, d.error().message);
      continue;
    }
    out.push_back(std::move(*d));
  }

  std::lock_guard lock(mu_);
  for (ObservedDevice& d : out) {
    if (auto it = failures_.find(d.device_id); it != failures_.end()) {
      d.enforcement_error = it->second.message;
    }
  }
  const auto gone = [&names](const auto& kv) {
    return !std::binary_search(
        names.begin(), names.end(), kv.first,
        [](std::string_view a, std::string_view b) { return UsbNameParentsFirst(a, b); });
  };
  std::erase_if(read_only_, gone);
  std::erase_if(allowed_, gone);
  std::erase_if(failures_, gone);
  std::erase_if(labels_, gone);
  bool notify = false;
  if (!initial_scan_done_) {
    initial_scan_done_ = true;
    notify = std::exchange(notify_pending_, false);
  }
  if (notify && on_change_) on_change_();
  return out;
}

std::vector<std::pair<SysfsDeviceBackend::Interface, bool>> SysfsDeviceBackend::PlanInterfaces(
    const std::string& device, const Decision& decision) {
  const bool composite =
      decision.action == Action::kBlock && !decision.allowed_interface_classes.empty();
  std::optional<UsbDescriptors> desc;
  DeviceFacts facts;
  Labels labels;
  if (composite) {
    const std::string dir = DeviceDir(device);
    if (auto raw = sysfs_->Read(dir + "/descriptors", kMaxSysfsDescriptorBytes); raw.ok()) {
      if (auto parsed = ParseUsbDescriptors(*raw); parsed.ok()) {
        desc = std::move(*parsed);
        facts.vendor_id = desc->vendor_id;
        facts.product_id = desc->product_id;
        if (auto product = sysfs_->Read(dir + "/product", kMaxSysfsAttributeBytes); product.ok()) {
          facts.product = std::string(TrimNewline(*product));
        }
        labels = ReadLabels(device, *desc, DescriptorHash(*raw));
      }
    }
  }
  // Every alternate setting of the interface must be allowed too: a driver
  // may switch to another one. Classified as ReadDevice did.
  const auto allowed = [&](const Interface& intf) {
    if (!composite) return true;
    if (!Contains(decision.allowed_interface_classes, intf.cls)) return false;
    return std::all_of(intf.alternates.begin(), intf.alternates.end(), [&](DeviceClass c) {
      return Contains(decision.allowed_interface_classes, c);
    });
  };
  std::vector<std::pair<Interface, bool>> out;
  for (Interface& intf :
       desc ? ReadInterfaces(device, &*desc, &facts, &labels) : ReadInterfaces(device)) {
    const bool wanted = allowed(intf);
    out.emplace_back(std::move(intf), wanted);
  }
  return out;
}

Status SysfsDeviceBackend::Authorize(const std::string& device, const Decision& decision) {
  const std::string dir = DeviceDir(device);
  if (Status s = WriteVerified(dir + "/authorized", "1"); !s.ok()) return s;

  // Authorize every wanted interface before probing any: a driver that
  // needs several interfaces finds them all (authorization.rst).
  std::vector<std::string> to_probe;
  for (const auto& [intf, wanted] : PlanInterfaces(device, decision)) {
    const std::string path = dir + "/" + intf.name + "/authorized";
    if (wanted) {
      auto now = sysfs_->Read(path, 16);
      if (now.ok() && TrimNewline(*now) == "1") continue;
      if (Status s = WriteVerified(path, "1"); !s.ok()) return s;
      to_probe.push_back(intf.name);
    } else {
      if (Status s = WriteVerified(path, "0"); !s.ok()) return s;
      log_->info("interface {} ({}) of device {} de-authorized", intf.name,
                 DeviceClassName(intf.cls), device);
    }
  }
  // usb_authorize_interface() only sets the flag; the kernel probes drivers
  // for an interface that was created unauthorized only when asked.
  for (const std::string& name : to_probe) {
    if (Status s = sysfs_->Write(kDriversProbe, name); !s.ok()) {
      // The interface is authorized but has no driver: a usability
      // problem, not an enforcement failure.
      log_->warn("driver probe for interface {} failed: {}", name, s.error().message);
    }
  }
  return Status::Ok();
}

Status SysfsDeviceBackend::ReadBack(const std::string& device, const Decision& decision) {
  const auto expect = [this](const std::string& path, std::string_view want) -> Status {
    auto now = sysfs_->Read(path, 16);
    if (!now.ok()) {
      return MakeError(now.error().code, "reading back " + path + ": " + now.error().message);
    }
    if (TrimNewline(*now) != want) {
      return MakeError(ErrorCode::kIo, path + " reads " +
                                           SanitizeDeviceString(TrimNewline(*now), 16) +
                                           ", decided " + std::string(want));
    }
    return Status::Ok();
  };
  const std::string dir = DeviceDir(device);
  const bool authorize =
      decision.action != Action::kBlock || !decision.allowed_interface_classes.empty();
  if (Status s = expect(dir + "/authorized", authorize ? "1" : "0"); !s.ok()) return s;
  if (!authorize) return Status::Ok();  // a de-authorized device has no interfaces
  for (const auto& [intf, wanted] : PlanInterfaces(device, decision)) {
    if (Status s = expect(dir + "/" + intf.name + "/authorized", wanted ? "1" : "0"); !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Status SysfsDeviceBackend::CheckInstance(const ObservedDevice& device) {
  if (device.instance.empty()) return Status::Ok();
  const std::string dir = DeviceDir(device.device_id);
  auto devnum = sysfs_->Read(dir + "/devnum", 16);
  if (!devnum.ok()) {
    return MakeError(ErrorCode::kNotFound, "USB device " + device.device_id +
                                               " is no longer present (" + devnum.error().message +
                                               ")");
  }
  if (TrimNewline(*devnum) != device.instance) {
    return MakeError(ErrorCode::kNotFound,
                     "USB device " + device.device_id + " was replaced (device number " +
                         SanitizeDeviceString(device.instance, 16) + ", now " +
                         SanitizeDeviceString(TrimNewline(*devnum), 16) + ")");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> SysfsDeviceBackend::BlockDevicesBelow(const std::string& devpath) {
  auto names = sysfs_->List(kBlockClassDir);
  if (!names.ok()) {
    if (names.error().code == ErrorCode::kNotFound) return std::vector<std::string>{};
    return names.error();
  }
  std::vector<std::string> out;
  for (const std::string& name : *names) {
    auto real = sysfs_->RealPath(std::string(kBlockClassDir) + "/" + name);
    if (real.ok() && IsBelow(*real, devpath)) out.push_back(name);
  }
  return out;
}

Status SysfsDeviceBackend::ProtectPresentBlockDevices(const std::string& devpath) {
  auto names = BlockDevicesBelow(devpath);
  if (!names.ok()) return names.error();
  for (const std::string& name : *names) {
    if (Status s = block_guard_->SetReadOnly(name); !s.ok()) {
      return MakeError(s.error().code, "could not make block device " + SanitizeDeviceString(name) +
                                           " read-only: " + s.error().message);
    }
    log_->info("block device {} is read-only", SanitizeDeviceString(name));
  }
  // Released only when every one of them is read-only: a partition must
  // not be mounted while its disk is still writable.
  for (const std::string& name : *names) ReleaseToAutomounters(name);
  return Status::Ok();
}

std::string SysfsDeviceBackend::FailReadOnly(const std::string& device, const std::string& message,
                                             bool from_apply) {
  std::string detail = message;
  log_->error("read-only enforcement failed for device {}: {}; de-authorizing it", device, message);
  if (Status s = WriteVerified(DeviceDir(device) + "/authorized", "0"); !s.ok()) {
    log_->critical("device {} could not be de-authorized either: {}", device, s.error().message);
    detail += "; de-authorizing it failed too: " + s.error().message;
  } else {
    detail += "; the device is de-authorized until it is unplugged";
  }
  auto devnum = sysfs_->Read(DeviceDir(device) + "/devnum", 16);
  {
    std::lock_guard lock(mu_);
    failures_[device] =
        Failure{detail, devnum.ok() ? std::string(TrimNewline(*devnum)) : std::string()};
    read_only_.erase(device);
  }
  if (!from_apply) Notify();
  return detail;
}

Status SysfsDeviceBackend::Apply(const ObservedDevice& device, const Decision& decision) {
  if (audit_only_) return Status::Ok();
  Status s = ApplyChecked(device, decision);
  // Unplugged while it was being enforced: the writes failed on a device
  // that is gone, which is a removal, not an enforcement failure. A quick
  // replug at the same port makes the kernel's authorization of the old
  // instance time out (ETIMEDOUT) while a new instance already sits in its
  // directory: that too is the removal of the one being enforced; the new
  // instance gets its own decision.
  if (!s.ok() && s.error().code != ErrorCode::kNotFound && IsUsbDeviceName(device.device_id)) {
    if (!sysfs_->Exists(DeviceDir(device.device_id))) {
      return MakeError(ErrorCode::kNotFound,
                       "USB device " + device.device_id + " is no longer present");
    }
    if (Status same = CheckInstance(device); !same.ok()) return same;
  }
  return s;
}

Status SysfsDeviceBackend::ApplyChecked(const ObservedDevice& device, const Decision& decision) {
  const std::string& id = device.device_id;
  if (!IsUsbDeviceName(id)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not a USB device name: " + SanitizeDeviceString(id));
  }
  // Another plug-in at the same port is not the device that was decided.
  if (Status s = CheckInstance(device); !s.ok()) return s;
  Status s = ApplyPresent(device, decision);
  // What the kernel holds after the writes, not what they returned, is
  // what gets reported: every attribute the decision set is read back, and
  // a mismatch (say, a configuration change that created new interfaces
  // meanwhile) is applied once more before it counts as a failure.
  if (s.ok()) {
    if (Status back = ReadBack(id, decision); !back.ok()) {
      log_->warn("device {}: {}; applying its decision once more", id, back.error().message);
      s = ApplyPresent(device, decision);
      if (s.ok()) s = ReadBack(id, decision);
    }
  }
  if (Status again = CheckInstance(device); !again.ok()) {
    // Replaced while the decision was written: the writes may have reached
    // the newcomer, which nothing decided on yet. It goes back to what
    // authorized_default gives a new device until it is decided.
    const bool authorizes =
        decision.action != Action::kBlock || !decision.allowed_interface_classes.empty();
    if (authorizes && sysfs_->Exists(DeviceDir(id))) {
      if (Status undo = sysfs_->Write(DeviceDir(id) + "/authorized", "0"); !undo.ok()) {
        log_->error("device {} replaced during enforcement could not be de-authorized: {}", id,
                    undo.error().message);
      }
    }
    return again;
  }
  return s;
}

Status SysfsDeviceBackend::ApplyPresent(const ObservedDevice& device, const Decision& decision) {
  const std::string& id = device.device_id;
  const std::string dir = DeviceDir(id);
  if (!sysfs_->Exists(dir)) {
    return MakeError(ErrorCode::kNotFound, "USB device " + id + " is no longer present");
  }
  const Action action = decision.action;

  // A read-only failure sticks to this plug-in of the device (devnum
  // changes on every re-plug); another decision replaces it.
  {
    auto devnum = sysfs_->Read(dir + "/devnum", 16);
    const std::string now = devnum.ok() ? std::string(TrimNewline(*devnum)) : "";
    std::lock_guard lock(mu_);
    if (auto it = failures_.find(id); it != failures_.end()) {
      if (it->second.devnum == now && action == Action::kReadOnly) {
        return MakeError(ErrorCode::kIo, it->second.message);
      }
      failures_.erase(it);
    }
    if (action != Action::kReadOnly) read_only_.erase(id);
    if (action != Action::kAllow) allowed_.erase(id);
  }

  switch (action) {
    case Action::kAllow: {
      auto devpath = sysfs_->RealPath(dir);
      if (!devpath.ok()) return devpath.error();
      {
        // Registered before authorizing, as for read_only: its disks are
        // released to automounters as they appear.
        std::lock_guard lock(mu_);
        allowed_[id] = *devpath;
      }
      if (Status s = Authorize(id, decision); !s.ok()) return s;
      if (auto names = BlockDevicesBelow(*devpath); names.ok()) {
        for (const std::string& name : *names) ReleaseToAutomounters(name);
      }
      return Status::Ok();
    }
    case Action::kReadOnly: {
      auto devpath = sysfs_->RealPath(dir);
      if (!devpath.ok()) return devpath.error();
      {
        // Registered before authorizing: the disk's uevent may follow at once.
        std::lock_guard lock(mu_);
        read_only_[id] = *devpath;
      }
      if (Status s = Authorize(id, decision); !s.ok()) return s;
      if (Status s = ProtectPresentBlockDevices(*devpath); !s.ok()) {
        return MakeError(ErrorCode::kIo, FailReadOnly(id, s.error().message, /*from_apply=*/true));
      }
      return Status::Ok();
    }
    case Action::kBlock:
      if (!decision.allowed_interface_classes.empty()) return Authorize(id, decision);
      [[fallthrough]];
    case Action::kUnspecified:
      break;
  }
  return WriteVerified(dir + "/authorized", "0");
}

}  // namespace mamori
