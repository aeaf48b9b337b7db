#include "agent/platform/windows/device/windows_device_backend.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "agent/platform/windows/device/device_id.h"
#include "agent/platform/windows/device/function_class.h"
#include "common/base/sanitize.h"
#include "common/device/usb_class.h"

namespace mamori {
namespace {

// A USB device node (not an interface node, not a root hub).
std::optional<UsbDevicePart> UsbDeviceNode(const DevNode& node) {
  const auto parts = SplitInstanceId(node.instance_id);
  if (!parts || parts->enumerator != "USB") return std::nullopt;
  auto usb = ParseUsbDevicePart(parts->device);
  if (!usb || usb->interface_number) return std::nullopt;
  return usb;
}

std::vector<const DevNode*> ChildrenOf(const std::string& id, std::span<const DevNode> nodes) {
  std::vector<const DevNode*> out;
  for (const DevNode& n : nodes) {
    if (n.parent_instance_id == id && !id.empty()) out.push_back(&n);
  }
  return out;
}

void TakeUsbStorNames(const DevNode& node, DeviceIdentity& identity) {
  const auto parts = SplitInstanceId(node.instance_id);
  if (!parts || parts->enumerator != "USBSTOR") return;
  const auto stor = ParseUsbStorDevicePart(parts->device);
  if (!stor) return;
  if (identity.manufacturer.empty()) identity.manufacturer = stor->vendor;
  if (identity.product.empty()) identity.product = stor->product;
}

void AddClass(std::vector<DeviceClass>& classes, std::optional<DeviceClass> c) {
  if (c && std::find(classes.begin(), classes.end(), *c) == classes.end()) classes.push_back(*c);
}

bool IsUsbFunctionNode(std::string_view id);  // below

// The class of a USB interface node (or of a single-function device node,
// which Windows gives its interface's compatible ids): from the class
// codes, the driver Windows bound and the ids (function_class.h); tightened
// by the setup class of a child node that is not itself a USB function
// (an FTDI bridge's "FTDIBUS\..." COM port is a Ports child of a node
// whose own driver is a bus driver); and mass storage when a disk was
// found below it and nothing already names a storage class.
std::optional<DeviceClass> UsbNodeClass(const DevNode& node, std::span<const DevNode> nodes,
                                        const NodeIdSet& storage_nodes) {
  auto cls = ClassOfUsbFunction(node);
  for (const DevNode& child : nodes) {
    if (child.parent_instance_id != node.instance_id || node.instance_id.empty() ||
        IsUsbFunctionNode(child.instance_id)) {
      continue;
    }
    if (const auto bound = ClassOfSetupClass(child.driver.setup_class, child.driver.if_type)) {
      cls = cls ? MoreRestrictive(*cls, *bound) : *bound;
    }
  }
  if (storage_nodes.contains(node.instance_id) && !(cls && IsRemovableStorage(*cls))) {
    return DeviceClass::kMassStorage;
  }
  return cls;
}

const DevNode* FindNode(std::string_view id, std::span<const DevNode> nodes) {
  const auto it = std::find_if(nodes.begin(), nodes.end(),
                               [&](const DevNode& n) { return n.instance_id == id; });
  return it == nodes.end() ? nullptr : &*it;
}

// A USB device or interface node (not a root hub).
bool IsUsbFunctionNode(std::string_view id) {
  const auto parts = SplitInstanceId(id);
  return parts && parts->enumerator == "USB" && ParseUsbDevicePart(parts->device).has_value();
}

// An SD memory card's node, "SD\VID_03&OID_5344&PID_SD16G&REV_8.0\...";
// SDIO functions (Wi-Fi, Bluetooth) are "SD\VID_xxxx&PID_xxxx" without OID.
bool IsSdMemoryNode(const DevNode& node) {
  const auto parts = SplitInstanceId(node.instance_id);
  if (!parts || parts->enumerator != "SD") return false;
  std::string device = parts->device;
  for (char& c : device) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return device.starts_with("VID_") && device.find("&OID_") != std::string::npos;
}

}  // namespace

std::optional<std::string> NearestUsbNode(std::string_view instance_id,
                                          std::span<const DevNode> nodes) {
  constexpr int kMaxDepth = 32;
  std::string_view current = instance_id;
  for (int depth = 0; depth <= kMaxDepth && !current.empty(); ++depth) {
    const auto parts = SplitInstanceId(current);
    if (parts && parts->enumerator == "USB") return std::string(current);
    const DevNode* node = FindNode(current, nodes);
    if (node == nullptr) return std::nullopt;
    current = node->parent_instance_id;
  }
  return std::nullopt;
}

DeviceIdentity IdentityFromDisk(const DevNode& disk, const StorageProperties& props,
                                DeviceClass cls) {
  DeviceIdentity identity;
  identity.manufacturer = props.vendor;
  identity.product = props.product;
  identity.serial = props.serial;
  if (identity.serial.empty()) {
    if (const auto parts = SplitInstanceId(disk.instance_id)) {
      identity.serial = SerialFromInstancePart(parts->instance, /*usbstor=*/false);
    }
  }
  identity.device_class = cls;
  identity.interface_classes = {cls};
  return identity;
}

DeviceIdentity IdentityFromDevNodes(const DevNode& usb, std::span<const DevNode> nodes,
                                    const NodeIdSet& storage_nodes) {
  DeviceIdentity identity;
  const auto parts = SplitInstanceId(usb.instance_id);
  if (!parts) return identity;
  if (const auto ids = ParseUsbDevicePart(parts->device)) {
    identity.vendor_id = ids->vendor_id;
    identity.product_id = ids->product_id;
  }
  identity.serial = SerialFromInstancePart(parts->instance, /*usbstor=*/false);

  const auto children = ChildrenOf(usb.instance_id, nodes);
  bool composite = false;
  for (const DevNode* child : children) {
    const auto child_parts = SplitInstanceId(child->instance_id);
    if (!child_parts) continue;
    const auto child_usb =
        child_parts->enumerator == "USB" ? ParseUsbDevicePart(child_parts->device) : std::nullopt;
    if (child_usb && child_usb->interface_number) {
      composite = true;
      AddClass(identity.interface_classes, UsbNodeClass(*child, nodes, storage_nodes));
      for (const DevNode* grandchild : ChildrenOf(child->instance_id, nodes)) {
        TakeUsbStorNames(*grandchild, identity);
      }
    } else {
      TakeUsbStorNames(*child, identity);
    }
  }
  // A single-function device has no interface nodes: Windows gives the
  // device node itself the interface's class as compatible ids.
  if (!composite) AddClass(identity.interface_classes, UsbNodeClass(usb, nodes, storage_nodes));
  // A disk right below a composite device's own node rather than below one
  // of its interfaces: still storage.
  if (composite && storage_nodes.contains(usb.instance_id)) {
    AddClass(identity.interface_classes, DeviceClass::kMassStorage);
  }
  // Hubs say so in their device class; everything else is judged by its
  // most sensitive interface (common/device/usb_class.h).
  const auto own = ClassFromCompatibleIds(usb.compatible_ids);
  const uint8_t device_class = own == DeviceClass::kHub ? kUsbClassHub : kUsbClassPerInterface;
  identity.device_class = ClassifyUsbDevice(device_class, 0, 0, identity.interface_classes);
  // A network, Wi-Fi, Bluetooth or serial function outranks HID, printer
  // and `other` in the headline class, so a keyboard with a network
  // interface is not taken for a keyboard (which the rule engine always
  // allows). ClassifyUsbDevice ranks the rest.
  if (identity.device_class != DeviceClass::kHub) {
    for (DeviceClass c : identity.interface_classes) {
      const bool way_out = c == DeviceClass::kNetwork || c == DeviceClass::kWifi ||
                           c == DeviceClass::kBluetooth || c == DeviceClass::kSerial;
      if (way_out) identity.device_class = MoreRestrictive(identity.device_class, c);
    }
  }
  return identity;
}

bool IsAtOrBelow(std::string_view instance_id, std::string_view ancestor,
                 std::span<const DevNode> nodes) {
  constexpr int kMaxDepth = 32;
  std::string_view current = instance_id;
  for (int depth = 0; depth <= kMaxDepth && !current.empty(); ++depth) {
    if (current == ancestor) return true;
    const DevNode* node = FindNode(current, nodes);
    if (node == nullptr) return false;
    current = node->parent_instance_id;
  }
  return false;
}

WindowsDeviceBackend::WindowsDeviceBackend(DeviceManager& devices, DiskControl& disks,
                                           DeviceNotificationSource* notifications)
    : devices_(devices), disks_(disks), notifications_(notifications) {}

WindowsDeviceBackend::~WindowsDeviceBackend() { Stop(); }

Status WindowsDeviceBackend::Start(std::function<void()> on_change) {
  Stop();
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lock(mu_);
    on_change_ = std::move(on_change);
    initial_scan_done_ = false;
    notify_pending_ = false;
  }
  {
    std::lock_guard lock(queue_mu_);
    queue_.clear();
    queue_overflow_ = false;
    worker_stopping_ = false;
  }
  worker_ = std::jthread([this] { WorkerLoop(); });
  // Registered before the core's first Enumerate, so nothing that arrives
  // in between is missed.
  if (notifications_ != nullptr) {
    if (Status s =
            notifications_->Start([this](const DeviceNotification& n) { OnNotification(n); });
        !s) {
      StopWorker();
      std::lock_guard lock(mu_);
      on_change_ = nullptr;
      return MakeError(s.error().code, "device arrival notifications (" +
                                           std::string(notifications_->Name()) +
                                           "): " + s.error().message);
    }
  }
  return Status::Ok();
}

void WindowsDeviceBackend::Stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  if (!worker_.joinable()) return;
  if (notifications_ != nullptr) notifications_->Stop();
  StopWorker();
  std::lock_guard lock(mu_);
  on_change_ = nullptr;
}

void WindowsDeviceBackend::OnNotification(const DeviceNotification& notification) {
  {
    std::lock_guard lock(queue_mu_);
    if (queue_.size() < kMaxQueuedNotifications) {
      queue_.push_back(notification);
    } else {
      queue_overflow_ = true;
    }
  }
  queue_cv_.notify_one();
}

void WindowsDeviceBackend::StopWorker() {
  {
    std::lock_guard lock(queue_mu_);
    worker_stopping_ = true;
  }
  queue_cv_.notify_all();
  worker_.join();
  worker_ = std::jthread();
}

void WindowsDeviceBackend::WorkerLoop() {
  while (true) {
    std::deque<DeviceNotification> batch;
    bool overflow = false;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return worker_stopping_ || !queue_.empty() || queue_overflow_; });
      if (worker_stopping_) return;
      batch.swap(queue_);
      overflow = std::exchange(queue_overflow_, false);
    }
    for (const DeviceNotification& n : batch) HandleNotification(n);
    if (overflow) {
      // Whatever was dropped: re-check every read-only device, re-enumerate.
      ProtectAllReadOnly();
      Notify();
    }
  }
}

void WindowsDeviceBackend::HandleNotification(const DeviceNotification& notification) {
  // A new disk, volume, CD-ROM or WPD interface may belong to a read-only
  // device: check before anything can use it.
  if (notification.kind == DeviceNotification::Kind::kArrival &&
      IsStorageInterface(notification.cls)) {
    ProtectAllReadOnly();
  }
  // Any arrival, a network, COM port, modem or Bluetooth interface
  // included: a driver was installed and a function's class may have
  // changed, so the core decides again now.
  Notify();
}

void WindowsDeviceBackend::ProtectAllReadOnly() {
  std::vector<std::string> devices;
  {
    std::lock_guard lock(mu_);
    devices.assign(read_only_.begin(), read_only_.end());
  }
  for (const std::string& device : devices) {
    if (Status s = ProtectReadOnly(device); !s) {
      FailReadOnly(device, s.error().message, /*from_apply=*/false);
    }
  }
}

void WindowsDeviceBackend::Notify() {
  std::lock_guard lock(mu_);
  if (!initial_scan_done_) {
    notify_pending_ = true;
    return;
  }
  if (on_change_) on_change_();
}

std::vector<ObservedDevice> WindowsDeviceBackend::Enumerate() {
  std::vector<ObservedDevice> out;
  auto nodes = devices_.ListPresent();
  if (!nodes.ok()) return out;
  // Which USB nodes have a disk below them, and which disks stand alone.
  // Without the disk list this round, what was learnt before still holds.
  auto disks = devices_.ListInterfaces(InterfaceClass::kDisk);
  NodeIdSet storage_now;
  std::map<std::string, DeviceIdentity, std::less<>> standalone_now;
  std::optional<Result<std::vector<uint32_t>>> system_disks;  // asked for once, when needed
  const std::vector<DeviceInterface> no_disks;
  for (const DeviceInterface& disk : disks.ok() ? *disks : no_disks) {
    if (const auto usb = NearestUsbNode(disk.instance_id, *nodes)) {
      if (IsUsbFunctionNode(*usb)) storage_now.insert(*usb);
      continue;
    }
    const DevNode* node = FindNode(disk.instance_id, *nodes);
    if (node == nullptr) continue;
    auto props = disks_.QueryStorage(disk.path);
    if (!props.ok()) continue;
    const auto cls = ClassOfNonUsbDisk(*props);
    if (!cls) continue;  // fixed: never controlled
    if (!system_disks) system_disks = disks_.SystemDiskNumbers();
    if (!system_disks->ok() || (*system_disks)->empty()) continue;
    auto number = disks_.DiskNumber(disk.path);
    if (!number.ok()) continue;
    const auto& system = **system_disks;
    if (std::find(system.begin(), system.end(), *number) != system.end()) continue;
    standalone_now[disk.instance_id] = IdentityFromDisk(*node, *props, *cls);
  }

  std::unique_lock lock(mu_);
  const auto present = [&nodes](std::string_view id) { return FindNode(id, *nodes) != nullptr; };
  std::erase_if(storage_nodes_, [&](const std::string& id) { return !present(id); });
  storage_nodes_.merge(storage_now);
  std::erase_if(standalone_disks_, [&](const auto& kv) { return !present(kv.first); });
  for (auto& [id, identity] : standalone_now) standalone_disks_[id] = std::move(identity);
  for (const DevNode& node : *nodes) {
    // Disabled earlier (by this agent before a restart, say): no interface
    // to query, but an SD memory card is storage by its ids.
    if (node.disabled && IsSdMemoryNode(node) && !standalone_disks_.contains(node.instance_id) &&
        !NearestUsbNode(node.instance_id, *nodes)) {
      StorageProperties sd;
      sd.bus_type = kStorageBusSd;
      standalone_disks_[node.instance_id] = IdentityFromDisk(node, sd, DeviceClass::kCardReader);
    }
  }

  for (const DevNode& node : *nodes) {
    if (UsbDeviceNode(node)) {
      ObservedDevice d;
      d.device_id = node.instance_id;
      d.identity = IdentityFromDevNodes(node, *nodes, storage_nodes_);
      out.push_back(std::move(d));
    } else if (auto it = standalone_disks_.find(node.instance_id); it != standalone_disks_.end()) {
      ObservedDevice d;
      d.device_id = node.instance_id;
      d.identity = it->second;
      out.push_back(std::move(d));
    }
  }
  for (ObservedDevice& d : out) {
    if (auto it = failures_.find(d.device_id); it != failures_.end()) {
      d.enforcement_error = it->second;
    }
  }
  // Unplugged: its failure and its read-only state go with it.
  const auto gone = [&out](const std::string& id) {
    return std::none_of(out.begin(), out.end(),
                        [&](const ObservedDevice& d) { return d.device_id == id; });
  };
  std::erase_if(read_only_, gone);
  std::erase_if(failures_, [&](const auto& kv) { return gone(kv.first); });
  std::vector<std::string> unplugged_excepted;
  for (const auto& [id, entry] : excepted_) {
    if (gone(id)) unplugged_excepted.push_back(id);
  }
  if (!initial_scan_done_) {
    initial_scan_done_ = true;
    if (std::exchange(notify_pending_, false) && on_change_) on_change_();
  }
  lock.unlock();
  // An unplugged excepted device needs no way through any more.
  for (const std::string& id : unplugged_excepted) (void)UpdateAllowance(id, std::nullopt);
  return out;
}

void WindowsDeviceBackend::SetAllowanceListener(
    std::function<Status(const ExceptionAllowance&)> listener) {
  allowance_listener_ = std::move(listener);
}

ExceptionAllowance WindowsDeviceBackend::AllowanceLocked() const {
  std::set<std::string> ids;
  std::set<DeviceClass> classes;
  for (const auto& [device, entry] : excepted_) {
    ids.insert(entry.instance_ids.begin(), entry.instance_ids.end());
    classes.insert(entry.classes.begin(), entry.classes.end());
  }
  return ExceptionAllowance{{ids.begin(), ids.end()}, {classes.begin(), classes.end()}};
}

Status WindowsDeviceBackend::UpdateAllowance(const std::string& device,
                                             std::optional<ExceptionAllowance> entry) {
  std::lock_guard serial(allowance_mu_);
  ExceptionAllowance before, after;
  {
    std::lock_guard lock(mu_);
    before = AllowanceLocked();
    if (entry) {
      excepted_[device] = std::move(*entry);
    } else {
      excepted_.erase(device);
    }
    after = AllowanceLocked();
  }
  if (after == before || !allowance_listener_) return Status::Ok();
  return allowance_listener_(after);
}

Status WindowsDeviceBackend::SetAndConfirm(const std::string& instance_id, bool enabled) {
  if (Status s = devices_.SetEnabled(instance_id, enabled); !s) {
    return MakeError(s.error().code, std::string(enabled ? "enable " : "disable ") + instance_id +
                                         ": " + s.error().message);
  }
  auto disabled = devices_.IsDisabled(instance_id);
  if (!disabled.ok()) {
    return MakeError(disabled.error().code,
                     "re-reading " + instance_id + ": " + disabled.error().message);
  }
  if (*disabled == enabled) {
    return MakeError(ErrorCode::kInternal, instance_id + " is still " +
                                               (enabled ? "disabled" : "enabled") +
                                               " after the state change");
  }
  return Status::Ok();
}

Status WindowsDeviceBackend::ProtectReadOnly(const std::string& device) {
  std::lock_guard protect(protect_mu_);
  {
    std::lock_guard lock(mu_);
    if (!read_only_.contains(device)) return Status::Ok();
  }
  auto nodes = devices_.ListPresent();
  if (!nodes.ok()) return nodes.error();
  auto disks = devices_.ListInterfaces(InterfaceClass::kDisk);
  if (!disks.ok()) return disks.error();
  for (const DeviceInterface& disk : *disks) {
    if (!IsAtOrBelow(disk.instance_id, device, *nodes)) continue;
    const std::string name = SanitizeDeviceString(disk.path);
    auto already = disks_.IsReadOnly(disk.path);
    if (already.ok() && *already) continue;
    if (Status s = disks_.SetReadOnly(disk.path); !s) {
      return MakeError(s.error().code,
                       "could not make disk " + name + " read-only: " + s.error().message);
    }
    auto now = disks_.IsReadOnly(disk.path);
    if (!now.ok()) {
      return MakeError(now.error().code, "could not confirm that disk " + name +
                                             " is read-only: " + now.error().message);
    }
    if (!*now) {
      return MakeError(ErrorCode::kInternal,
                       "disk " + name + " is still writable after IOCTL_DISK_SET_DISK_ATTRIBUTES");
    }
  }
  // Optical drives (burning goes around the disk attributes) and portable
  // devices have no per-device read-only switch.
  for (InterfaceClass cls : {InterfaceClass::kCdRom, InterfaceClass::kWpd}) {
    auto ifaces = devices_.ListInterfaces(cls);
    if (!ifaces.ok()) return ifaces.error();
    for (const DeviceInterface& iface : *ifaces) {
      if (IsAtOrBelow(iface.instance_id, device, *nodes)) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         std::string(InterfaceClassName(cls)) + " interface " +
                             SanitizeDeviceString(iface.path) +
                             " cannot be made read-only per device");
      }
    }
  }
  return Status::Ok();
}

std::string WindowsDeviceBackend::FailReadOnly(const std::string& device,
                                               const std::string& message, bool from_apply) {
  std::string detail = "read_only not enforced: " + message;
  if (Status s = SetAndConfirm(device, false); !s) {
    detail += "; disabling the device failed too: " + s.error().message;
  } else {
    detail += "; the device is disabled until it is unplugged";
  }
  {
    std::lock_guard lock(mu_);
    failures_[device] = detail;
    read_only_.erase(device);
  }
  if (!from_apply) Notify();
  return detail;
}

namespace {

// The allowance of one device: its node and every node below it.
ExceptionAllowance AllowanceOf(const ObservedDevice& device, std::span<const DevNode> nodes) {
  ExceptionAllowance a;
  for (const DevNode& n : nodes) {
    if (IsAtOrBelow(n.instance_id, device.device_id, nodes))
      a.instance_ids.push_back(n.instance_id);
  }
  std::sort(a.instance_ids.begin(), a.instance_ids.end());
  std::set<DeviceClass> classes(device.identity.interface_classes.begin(),
                                device.identity.interface_classes.end());
  classes.insert(device.identity.device_class);
  a.classes.assign(classes.begin(), classes.end());
  return a;
}

// A node below the device that has no driver: its install was refused (or
// is still under way).
bool HasNodeWithoutDriver(const std::string& device, std::span<const DevNode> nodes) {
  return std::any_of(nodes.begin(), nodes.end(), [&](const DevNode& n) {
    return n.instance_id != device && n.driver.setup_class.empty() &&
           IsAtOrBelow(n.instance_id, device, nodes);
  });
}

}  // namespace

Status WindowsDeviceBackend::AllowByException(const ObservedDevice& device,
                                              std::span<const DevNode> nodes) {
  const std::string& id = device.device_id;
  // The way through first, so that what the device brings up installs.
  if (Status s = UpdateAllowance(id, AllowanceOf(device, nodes)); !s) {
    return MakeError(s.error().code,
                     "the registry line could not let the device through: " + s.error().message);
  }
  const auto self = std::find_if(nodes.begin(), nodes.end(),
                                 [&](const DevNode& n) { return n.instance_id == id; });
  const bool was_disabled = self != nodes.end() && self->disabled;
  if (was_disabled) {
    if (Status s = SetAndConfirm(id, true); !s) return s;
  }
  auto now = devices_.ListPresent();
  if (!now.ok()) return now.error();
  if (Status s = UpdateAllowance(id, AllowanceOf(device, *now)); !s) {
    return MakeError(s.error().code,
                     "the registry line could not let the device through: " + s.error().message);
  }
  if (!HasNodeWithoutDriver(id, *now)) return Status::Ok();
  // Refused before it was on the list: restart the device once so Windows
  // tries again.
  if (Status s = SetAndConfirm(id, false); !s) return s;
  return SetAndConfirm(id, true);
}

Status WindowsDeviceBackend::Apply(const ObservedDevice& device, const Decision& decision) {
  auto nodes = devices_.ListPresent();
  if (!nodes.ok()) return nodes.error();
  const auto self = std::find_if(nodes->begin(), nodes->end(), [&](const DevNode& n) {
    return n.instance_id == device.device_id;
  });
  if (self == nodes->end()) {
    return MakeError(ErrorCode::kNotFound, device.device_id + " is no longer present");
  }
  const std::string& id = self->instance_id;
  {
    // A read-only failure sticks to this plug-in of the device; another
    // decision replaces it.
    std::lock_guard lock(mu_);
    if (auto it = failures_.find(id); it != failures_.end()) {
      if (decision.action == Action::kReadOnly) return MakeError(ErrorCode::kIo, it->second);
      failures_.erase(it);
    }
    if (decision.action == Action::kReadOnly) {
      // Before enabling: a disk arriving from now on is protected.
      read_only_.insert(id);
    } else {
      read_only_.erase(id);
    }
  }
  const bool by_exception =
      decision.action == Action::kAllow && decision.matched_rule.starts_with(kExceptionRulePrefix);
  if (!by_exception) {
    if (Status s = UpdateAllowance(id, std::nullopt); !s) {
      // Blocking goes on: the device is disabled whatever the registry says.
      if (decision.action == Action::kAllow) return s;
    }
  }
  switch (decision.action) {
    case Action::kAllow:
      if (by_exception) return AllowByException(device, *nodes);
      return self->disabled ? SetAndConfirm(id, true) : Status::Ok();
    case Action::kBlock: {
      if (decision.allowed_interface_classes.empty()) {
        return self->disabled ? Status::Ok() : SetAndConfirm(id, false);
      }
      NodeIdSet storage_nodes;
      {
        std::lock_guard lock(mu_);
        storage_nodes = storage_nodes_;
      }
      // A disk right below the device's own node cannot be split off.
      if (storage_nodes.contains(id))
        return self->disabled ? Status::Ok() : SetAndConfirm(id, false);
      // A composite device with some classes allowed (a keyboard with a
      // storage interface): keep the device, disable the other interfaces.
      const auto& allowed = decision.allowed_interface_classes;
      for (const DevNode* child : ChildrenOf(id, *nodes)) {
        const auto cls = UsbNodeClass(*child, *nodes, storage_nodes);
        const bool keep = cls && std::find(allowed.begin(), allowed.end(), *cls) != allowed.end();
        if (child->disabled == !keep) continue;
        if (Status s = SetAndConfirm(child->instance_id, keep); !s) return s;
      }
      return self->disabled ? SetAndConfirm(id, true) : Status::Ok();
    }
    case Action::kReadOnly: {
      if (self->disabled) {
        // Still disabled if this fails: nothing is writable.
        if (Status s = SetAndConfirm(id, true); !s) return s;
      }
      if (Status s = ProtectReadOnly(id); !s) {
        return MakeError(ErrorCode::kIo, FailReadOnly(id, s.error().message, /*from_apply=*/true));
      }
      return Status::Ok();
    }
    case Action::kUnspecified:
      break;
  }
  return MakeError(ErrorCode::kInvalidArgument, "decision has no action");
}

}  // namespace mamori
