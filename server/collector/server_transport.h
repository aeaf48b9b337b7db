#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <memory>

#include "common/clock.h"
#include "common/credentials.h"
#include "server/collector/collector_config.h"

namespace mamori {

// Mutual TLS as the collector runs it: the TLS stack asks for a client
// certificate but leaves the decision to PeerCertificateVerifier, which
// verifies it against the CA and logs every refusal with its reason. The
// handshake still proves possession of the certificate's key.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsMaterial& tls,
                                                               const Clock* clock);

// Message-size ceiling and keepalive settings of the collector's port.
void ApplyServerOptions(grpc::ServerBuilder& builder, const CollectorLimits& limits);

}  // namespace mamori
