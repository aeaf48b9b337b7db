#pragma once

// Helpers shared by the admin service's handlers (admin_service_*.cc).

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "server/tls/peer_auth.h"
#include "server/tls/revocation_list.h"

namespace mamori {

// The one gate of every admin call: the caller, or nullopt after finishing
// the call (PERMISSION_DENIED, or UNAUTHENTICATED for a revoked caller, logged with the peer's
// address) when the caller is not an admin or its certificate is revoked
// (`revocations` may be null: nothing is revoked).
std::optional<AuthenticatedPeer> AdmitAdmin(grpc::CallbackServerContext* ctx,
                                            grpc::ServerUnaryReactor* reactor,
                                            const RevocationList* revocations,
                                            std::string_view method);

// AdmitAdmin's caller as "cert:<identity URI>".
std::optional<std::string> AdminActor(grpc::CallbackServerContext* ctx,
                                      grpc::ServerUnaryReactor* reactor,
                                      const RevocationList* revocations, std::string_view method);

// OK, or the gRPC status that stands for the error.
grpc::Status Done(const Status& s);

}  // namespace mamori
