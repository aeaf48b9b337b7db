#pragma once

namespace mamori {

// Routes gRPC's own log lines (handshake failures, transport errors) into
// the process's spdlog sinks under the logger name "grpc", so they appear in
// the same structured log as everything else.
void RouteGrpcLogging();

}  // namespace mamori
