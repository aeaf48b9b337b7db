#pragma once

// Helpers shared by the admin service's handlers (admin_service_*.cc).

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace mamori {

// The admin certificate of the caller as "cert:<identity URI>", or nullopt
// after finishing the call (PERMISSION_DENIED, logged with the peer's
// address) when the caller is not an admin.
std::optional<std::string> AdminActor(grpc::CallbackServerContext* ctx,
                                      grpc::ServerUnaryReactor* reactor, std::string_view method);

// OK, or the gRPC status that stands for the error.
grpc::Status Done(const Status& s);

}  // namespace mamori
