#pragma once

namespace mamori {

// Routes gRPC's own log lines (handshake failures, transport errors) into
// the process's spdlog sinks under the logger name "grpc", so they appear in
// the same structured log as everything else.
void RouteGrpcLogging();

// Turns off Abseil's mutex deadlock detection, which Debian's Abseil build
// leaves on: every lock taken inside gRPC then pays for cycle tracking
// (about a tenth of the collector's CPU under load). Call first in main.
void DisableMutexDeadlockDetection();

}  // namespace mamori
