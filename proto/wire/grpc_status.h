#pragma once

#include <grpcpp/support/status.h>

#include <string_view>

namespace mamori {

// "PERMISSION_DENIED", "UNAVAILABLE", ...: the code's name as gRPC documents
// it, for messages a person reads.
std::string_view GrpcCodeName(grpc::StatusCode code);

}  // namespace mamori
