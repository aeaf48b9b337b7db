#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <cstdint>

namespace mamori {

// gRPC refuses a message above the receive limit (ApplyServerOptions)
// before any handler runs, answering RESOURCE_EXHAUSTED without a word in
// the collector's log. This interceptor sees such a call arrive without its
// message and logs the refusal with the method, the peer's address and the
// identity in its certificate, whatever the message's size.
class OversizedMessageLoggerFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit OversizedMessageLoggerFactory(int64_t transport_limit_bytes)
      : transport_limit_bytes_(transport_limit_bytes) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  int64_t transport_limit_bytes_;
};

}  // namespace mamori
