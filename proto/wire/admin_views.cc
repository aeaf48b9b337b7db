#include "proto/wire/admin_views.h"

#include "proto/wire/convert.h"

namespace mamori {

void ToView(const Device& d, v1::DeviceView* out) {
  out->set_device_id(d.device_id);
  out->set_vid_pid(d.identity.VidPid());
  out->set_serial(d.identity.serial);
  out->set_manufacturer(d.identity.manufacturer);
  out->set_product(d.identity.product);
  out->set_bus_path(d.identity.bus_path);
  out->set_device_class(ToProto(d.identity.device_class));
  for (DeviceClass c : d.identity.interface_classes) out->add_interface_classes(ToProto(c));
  ToProto(d.decision, out->mutable_decision());
  if (d.first_seen_ms != 0) SetMs(d.first_seen_ms, out->mutable_first_seen());
}

void ToView(const StoredEvent& e, v1::EventView* out) {
  out->set_terminal_id(e.terminal_id);
  out->set_seq(e.event.seq);
  SetMs(e.event.time_ms, out->mutable_time());
  out->set_kind(ToProto(e.event.kind));
  out->set_severity(ToProto(e.event.severity));
  if (e.event.device) ToView(*e.event.device, out->mutable_device());
  out->set_detail(e.event.detail);
  out->set_user(e.event.user);
  SetMs(e.received_ms, out->mutable_received());
}

}  // namespace mamori
