#include "proto/wire/convert.h"

#include <algorithm>
#include <limits>

namespace mamori {
namespace {

template <typename To, typename From>
To CastEnum(From v) {
  return static_cast<To>(static_cast<int>(v));
}

// Domain enums and wire enums are declared in the same order, so they map by
// value; the static_asserts keep that true when either side changes.
static_assert(static_cast<int>(DeviceClass::kBiometric) == v1::DEVICE_CLASS_BIOMETRIC);
static_assert(static_cast<int>(Action::kBlock) == v1::ACTION_BLOCK);
static_assert(static_cast<int>(EventKind::kCertificateRenewalFailed) ==
              v1::EVENT_KIND_CERTIFICATE_RENEWAL_FAILED);
static_assert(static_cast<int>(Severity::kAlert) == v1::SEVERITY_ALERT);
static_assert(static_cast<int>(EnforcementMode::kAuditOnly) == v1::ENFORCEMENT_MODE_AUDIT_ONLY);

}  // namespace

int64_t ToMs(const google::protobuf::Timestamp& t) {
  // A timestamp comes from the other side of the wire (or from a journal a
  // local root may have edited): seconds beyond what milliseconds can hold
  // are clamped instead of overflowing.
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1000 - 1;
  const int64_t seconds = std::clamp<int64_t>(t.seconds(), -kMaxSeconds, kMaxSeconds);
  return seconds * 1000 + t.nanos() / 1'000'000;
}

void SetMs(int64_t ms, google::protobuf::Timestamp* t) {
  int64_t secs = ms / 1000;
  int64_t rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    secs -= 1;
  }
  t->set_seconds(secs);
  t->set_nanos(static_cast<int32_t>(rem * 1'000'000));
}

DeviceClass FromProto(v1::DeviceClass c) {
  if (!v1::DeviceClass_IsValid(c)) return DeviceClass::kOther;
  return CastEnum<DeviceClass>(c);
}
v1::DeviceClass ToProto(DeviceClass c) { return CastEnum<v1::DeviceClass>(c); }

Action FromProto(v1::Action a) {
  if (!v1::Action_IsValid(a)) return Action::kUnspecified;
  return CastEnum<Action>(a);
}
v1::Action ToProto(Action a) { return CastEnum<v1::Action>(a); }

EventKind FromProto(v1::EventKind k) {
  if (!v1::EventKind_IsValid(k)) return EventKind::kUnspecified;
  return CastEnum<EventKind>(k);
}
v1::EventKind ToProto(EventKind k) { return CastEnum<v1::EventKind>(k); }

Severity FromProto(v1::Severity s) {
  if (!v1::Severity_IsValid(s)) return Severity::kUnspecified;
  return CastEnum<Severity>(s);
}
v1::Severity ToProto(Severity s) { return CastEnum<v1::Severity>(s); }

EnforcementMode FromProto(v1::EnforcementMode m) {
  if (!v1::EnforcementMode_IsValid(m)) return EnforcementMode::kUnspecified;
  return CastEnum<EnforcementMode>(m);
}
v1::EnforcementMode ToProto(EnforcementMode m) { return CastEnum<v1::EnforcementMode>(m); }

void ToProto(const Decision& d, v1::Decision* out) {
  out->set_action(ToProto(d.action));
  out->set_matched_rule(d.matched_rule);
  out->set_enforced(d.enforced);
  out->set_enforcement_error(d.enforcement_error);
  for (DeviceClass c : d.allowed_interface_classes) out->add_allowed_interface_classes(ToProto(c));
}

Decision FromProto(const v1::Decision& d) {
  Decision out;
  out.action = FromProto(d.action());
  out.matched_rule = d.matched_rule();
  // Repeated enums arrive as ints; an unknown value reads as "other".
  for (int c : d.allowed_interface_classes()) {
    out.allowed_interface_classes.push_back(FromProto(static_cast<v1::DeviceClass>(c)));
  }
  out.enforced = d.enforced();
  out.enforcement_error = d.enforcement_error();
  return out;
}

Device FromProto(const v1::Device& d) {
  Device out;
  out.device_id = d.device_id();
  const auto& id = d.identity();
  // Values above 0xFFFF cannot come from a real device; keep the low bits
  // rather than reject, the collector flags nothing based on them.
  out.identity.vendor_id = static_cast<uint16_t>(id.vendor_id() & 0xFFFF);
  out.identity.product_id = static_cast<uint16_t>(id.product_id() & 0xFFFF);
  out.identity.serial = id.serial();
  out.identity.manufacturer = id.manufacturer();
  out.identity.product = id.product();
  out.identity.bus_path = id.bus_path();
  out.identity.device_class = FromProto(id.device_class());
  for (int c : id.interface_classes()) {
    out.identity.interface_classes.push_back(FromProto(static_cast<v1::DeviceClass>(c)));
  }
  out.identity.descriptor_hash = id.descriptor_hash();
  out.decision = FromProto(d.decision());
  out.first_seen_ms = ToMs(d.first_seen());
  return out;
}

void ToProto(const Device& d, v1::Device* out) {
  out->set_device_id(d.device_id);
  auto* id = out->mutable_identity();
  id->set_vendor_id(d.identity.vendor_id);
  id->set_product_id(d.identity.product_id);
  id->set_serial(d.identity.serial);
  id->set_manufacturer(d.identity.manufacturer);
  id->set_product(d.identity.product);
  id->set_bus_path(d.identity.bus_path);
  id->set_device_class(ToProto(d.identity.device_class));
  for (DeviceClass c : d.identity.interface_classes) id->add_interface_classes(ToProto(c));
  id->set_descriptor_hash(d.identity.descriptor_hash);
  ToProto(d.decision, out->mutable_decision());
  if (d.first_seen_ms != 0) SetMs(d.first_seen_ms, out->mutable_first_seen());
}

Event FromProto(const v1::Event& e) {
  Event out;
  out.seq = e.seq();
  out.time_ms = ToMs(e.time());
  out.kind = FromProto(e.kind());
  out.severity = FromProto(e.severity());
  if (e.has_device()) out.device = FromProto(e.device());
  out.detail = e.detail();
  out.user = e.user();
  return out;
}

void ToProto(const Event& e, v1::Event* out) {
  out->set_seq(e.seq);
  SetMs(e.time_ms, out->mutable_time());
  out->set_kind(ToProto(e.kind));
  out->set_severity(ToProto(e.severity));
  if (e.device) ToProto(*e.device, out->mutable_device());
  out->set_detail(e.detail);
  out->set_user(e.user);
}

std::string SerializeEvent(const Event& e) {
  v1::Event proto;
  ToProto(e, &proto);
  return proto.SerializeAsString();
}

std::optional<Event> ParseEvent(std::string_view bytes) {
  v1::Event proto;
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      !proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || proto.seq() == 0) {
    return std::nullopt;
  }
  return FromProto(proto);
}

void ToProto(const EnforcementStatus& e, v1::EnforcementStatus* out) {
  out->set_mode(ToProto(e.mode));
  out->set_healthy(e.healthy);
  out->set_detail(e.detail);
  out->set_backend(e.backend);
}

TerminalState FromProto(const v1::StateReport& r) {
  TerminalState s;
  s.hostname = r.hostname();
  s.os = r.os();
  s.agent_version = r.agent_version();
  s.agent_time_ms = ToMs(r.agent_time());
  s.report_interval_s = r.report_interval_seconds();
  s.applied_policy_version = r.applied_policy_version();
  s.enforcement.mode = FromProto(r.enforcement().mode());
  s.enforcement.healthy = r.enforcement().healthy();
  s.enforcement.detail = r.enforcement().detail();
  s.enforcement.backend = r.enforcement().backend();
  s.devices.reserve(static_cast<std::size_t>(r.devices_size()));
  for (const auto& d : r.devices()) s.devices.push_back(FromProto(d));
  return s;
}

void ToProto(const TerminalState& s, v1::StateReport* out) {
  out->set_terminal_id(s.terminal_id);
  SetMs(s.agent_time_ms, out->mutable_agent_time());
  out->set_agent_version(s.agent_version);
  out->set_os(s.os);
  out->set_hostname(s.hostname);
  out->set_applied_policy_version(s.applied_policy_version);
  ToProto(s.enforcement, out->mutable_enforcement());
  for (const auto& d : s.devices) ToProto(d, out->add_devices());
  out->set_report_interval_seconds(s.report_interval_s);
}

void ToProto(const PolicyBundle& b, v1::PolicyBundle* out) {
  out->set_version(b.version);
  out->set_group(b.group);
  out->set_policy_yaml(b.policy_yaml);
  out->set_signature(b.signature);
  out->set_key_id(b.key_id);
  out->set_applied_by(b.applied_by);
  if (b.applied_at_ms != 0) SetMs(b.applied_at_ms, out->mutable_applied_at());
}

PolicyBundle FromProto(const v1::PolicyBundle& b) {
  PolicyBundle out;
  out.version = b.version();
  out.group = b.group();
  out.policy_yaml = b.policy_yaml();
  out.signature = b.signature();
  out.key_id = b.key_id();
  out.applied_by = b.applied_by();
  if (b.has_applied_at()) out.applied_at_ms = ToMs(b.applied_at());
  return out;
}

}  // namespace mamori
