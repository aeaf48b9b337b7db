#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <memory>

#include "common/base/clock.h"
#include "common/crypto/credentials.h"
#include "server/tls/handshake_peer.h"
#include "server/tls/revocation_list.h"

namespace mamori {

// Mutual TLS as the collector runs it: the TLS stack asks for a client
// certificate but leaves the decision to PeerCertificateVerifier, which
// verifies it against the CA and logs every refusal with its reason. The
// handshake still proves possession of the certificate's key. `revocations`
// (the deny list) and `peers` (who is handshaking) may be null.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const TlsMaterial& tls, const Clock* clock, const RevocationList* revocations = nullptr,
    HandshakePeerSource* peers = nullptr);

// Server-authenticated TLS only, for the enrollment port: no client
// certificate is requested (a terminal that enrolls has none yet). The
// chain presented ends with the root CA (tls.ca_pem), which agents pin by
// fingerprint.
std::shared_ptr<grpc::ServerCredentials> MakeEnrollmentCredentials(const TlsMaterial& tls);

// Keepalive of the collector's port: a ping every 30 s, a peer silent for
// 10 s more is dead. Agents may ping as often as every 5 s (their
// collector.keepalive.time has that floor) without being refused.
inline constexpr int kServerKeepaliveTimeMs = 30'000;
inline constexpr int kServerKeepaliveTimeoutMs = 10'000;
inline constexpr int kMinAgentPingIntervalMs = 5'000;

// Message-size ceiling, memory quota (0 = none) and keepalive settings of
// the collector's port.
void ApplyServerOptions(grpc::ServerBuilder& builder, int64_t max_message_bytes,
                        int64_t transport_memory_bytes = 0);

}  // namespace mamori
