#pragma once

// Devices and stored events as the admin service shows them (admin.proto's
// views). Strings are copied as stored: the collector sanitized them at
// ingest, so they are valid UTF-8 as protobuf `string` requires.

#include "common/device/device.h"
#include "common/device/event.h"
#include "mamori/v1/admin.pb.h"

namespace mamori {

void ToView(const Device& d, v1::DeviceView* out);
void ToView(const StoredEvent& e, v1::EventView* out);

}  // namespace mamori
