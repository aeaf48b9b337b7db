#pragma once

// Conversion between domain types (common/) and wire messages, used at the
// transport boundary only: by the agent's gRPC client and the collector's
// services.

#include "common/compliance.h"
#include "common/device.h"
#include "common/event.h"
#include "common/terminal_state.h"
#include "mamori/v1/admin.pb.h"
#include "mamori/v1/agent.pb.h"
#include "mamori/v1/types.pb.h"

namespace mamori {

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
CheckResult FromProto(v1::CheckResult r);
v1::CheckResult ToProto(CheckResult r);
ComplianceStatus FromProto(v1::ComplianceStatus s);
v1::ComplianceStatus ToProto(ComplianceStatus s);

void ToProto(const Decision& d, v1::Decision* out);
Decision FromProto(const v1::Decision& d);
Device FromProto(const v1::Device& d);
void ToProto(const Device& d, v1::Device* out);
Event FromProto(const v1::Event& e);
void ToProto(const Event& e, v1::Event* out);
void ToProto(const ComplianceCheck& c, v1::ComplianceCheck* out);
// Admin views. Strings are copied as stored; the collector sanitized them
// at ingest, so they are valid UTF-8 as protobuf `string` requires.
void ToView(const Device& d, v1::DeviceView* out);
void ToView(const StoredEvent& e, v1::EventView* out);

// Reported fields only; terminal_id, group and last_report_ms are left empty
// for the collector to fill from the certificate and its own clock.
TerminalState FromProto(const v1::StateReport& r);
void ToProto(const TerminalState& s, v1::StateReport* out);
void ToProto(const EnforcementStatus& e, v1::EnforcementStatus* out);

}  // namespace mamori
