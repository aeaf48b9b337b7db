#include "server/tls/server_transport.h"

#include <grpcpp/resource_quota.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <climits>

#include "server/tls/cert_verifier.h"

namespace mamori {

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsMaterial& tls,
                                                               const Clock* clock,
                                                               const RevocationList* revocations,
                                                               HandshakePeerSource* peers) {
  using grpc::experimental::IdentityKeyCertPair;
  std::vector<IdentityKeyCertPair> pairs{{tls.key_pem, tls.cert_pem}};
  auto provider =
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(tls.ca_pem, pairs);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PeerCertificateVerifier>(
          tls.ca_pem, clock, revocations, peers));
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ServerCredentials> MakeEnrollmentCredentials(const TlsMaterial& tls) {
  using grpc::experimental::IdentityKeyCertPair;
  // A terminal that enrolls has no CA file, only the root's fingerprint: it
  // can check the chain only when the root comes with it. Presenting the
  // root costs nothing and trusts nothing (the client decides by the pin).
  std::string chain = tls.cert_pem;
  if (chain.find(tls.ca_pem) == std::string::npos) {
    if (!chain.empty() && chain.back() != '\n') chain += '\n';
    chain += tls.ca_pem;
  }
  std::vector<IdentityKeyCertPair> pairs{{tls.key_pem, chain}};
  auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(pairs);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(options);
}

void ApplyServerOptions(grpc::ServerBuilder& builder, int64_t max_message_bytes,
                        int64_t transport_memory_bytes) {
  // Messages up to twice the limit reach the service, which refuses and logs
  // them with the sender's identity; beyond that gRPC refuses them before
  // any handler runs (and says so only in its own trace). gRPC 1.51 reads
  // such a message whole before refusing it, so an attempt costs its size
  // in memory for a moment; a resource quota caps what all connections
  // together may hold, at the price that gRPC then cancels streams to get
  // under it, an honest agent's included (it retries).
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<int64_t>(max_message_bytes * 2, INT_MAX)));
  if (transport_memory_bytes > 0) {
    grpc::ResourceQuota quota("agent-transport");
    quota.Resize(static_cast<std::size_t>(transport_memory_bytes));
    builder.SetResourceQuota(quota);
  }
  // A dead agent (powered off, cable pulled, frozen) is noticed within
  // time + timeout = 40 s and its policy stream released.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kServerKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kServerKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // The policy stream is idle for days; with gRPC's default of 2 the server
  // stops pinging after two pings without data and keepalive silently ends.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS,
                             kServerKeepaliveTimeMs / 2);
  // Agents ping every collector.keepalive.time (5 s at the least). A ping
  // sooner than this after the previous one, with no data sent in between,
  // is a strike, and after GRPC_ARG_HTTP2_MAX_PING_STRIKES (2) the server
  // sends GOAWAY too_many_pings: the bound must not exceed the agents'
  // shortest allowed interval.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kMinAgentPingIntervalMs);
}

}  // namespace mamori
