#pragma once

#include <optional>
#include <string>
#include <string_view>

// Conversion between the domain types of common/ and the messages of
// types.proto and agent.proto, used at the transport boundary only: by the
// agent's gRPC client, its journal and the collector's agent service. Admin
// views convert in admin_views.h, compliance verdicts in
// server/compliance/compliance_wire.h.

#include "common/device/device.h"
#include "common/device/event.h"
#include "common/device/terminal_state.h"
#include "common/policy/policy_bundle.h"
#include "mamori/v1/agent.pb.h"
#include "mamori/v1/types.pb.h"

namespace mamori {

// Milliseconds since the epoch; seconds out of the range of int64
// milliseconds are clamped to it.
int64_t ToMs(const google::protobuf::Timestamp& t);
void SetMs(int64_t ms, google::protobuf::Timestamp* t);

DeviceClass FromProto(v1::DeviceClass c);
v1::DeviceClass ToProto(DeviceClass c);
Action FromProto(v1::Action a);
v1::Action ToProto(Action a);
EventKind FromProto(v1::EventKind k);
v1::EventKind ToProto(EventKind k);
Severity FromProto(v1::Severity s);
v1::Severity ToProto(Severity s);
EnforcementMode FromProto(v1::EnforcementMode m);
v1::EnforcementMode ToProto(EnforcementMode m);

void ToProto(const Decision& d, v1::Decision* out);
Decision FromProto(const v1::Decision& d);
Device FromProto(const v1::Device& d);
void ToProto(const Device& d, v1::Device* out);
Event FromProto(const v1::Event& e);
void ToProto(const Event& e, v1::Event* out);
// An event as the collector receives it: a serialized mamori.v1.Event.
// The agent encodes each event once, when its journal records it, and
// sends those bytes.
std::string SerializeEvent(const Event& e);
// Nullopt when `bytes` is not a mamori.v1.Event with a seq.
std::optional<Event> ParseEvent(std::string_view bytes);

// Reported fields only; terminal_id, group and last_report_ms are left empty
// for the collector to fill from the certificate and its own clock.
TerminalState FromProto(const v1::StateReport& r);
void ToProto(const TerminalState& s, v1::StateReport* out);
void ToProto(const EnforcementStatus& e, v1::EnforcementStatus* out);

void ToProto(const PolicyBundle& b, v1::PolicyBundle* out);
PolicyBundle FromProto(const v1::PolicyBundle& b);

}  // namespace mamori
