#include "server/tls/oversized_message_logger.h"

#include <grpcpp/server_context.h>

#include <string>

#include "common/base/logging.h"
#include "server/tls/peer_auth.h"

namespace mamori {
namespace {

class OversizedMessageLogger final : public grpc::experimental::Interceptor {
 public:
  OversizedMessageLogger(grpc::experimental::ServerRpcInfo* info, int64_t limit)
      : info_(info), limit_(limit) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      Log();
    }
    methods->Proceed();
  }

 private:
  void Log() {
    static const auto log = GetLogger("transport");
    grpc::ServerContextBase* ctx = info_->server_context();
    const std::string address = ctx->peer();
    auto peer = IdentifyPeer(ctx->auth_context().get(), address);
    const std::string who = peer.ok() ? "'" + peer->identity.id + "'" : "an unidentified peer";
    log->warn(
        "{} from {} at {} refused by the transport: the message was larger than {} bytes (or "
        "missing)",
        info_->method(), who, address, limit_);
  }

  grpc::experimental::ServerRpcInfo* info_;
  int64_t limit_;
};

}  // namespace

grpc::experimental::Interceptor* OversizedMessageLoggerFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  // Only calls that carry one request message can lack it.
  if (info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY ||
      info->type() == grpc::experimental::ServerRpcInfo::Type::SERVER_STREAMING) {
    return new OversizedMessageLogger(info, transport_limit_bytes_);
  }
  return nullptr;
}

}  // namespace mamori
