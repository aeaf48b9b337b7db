#include "proto/wire/grpc_logging.h"

#include <absl/synchronization/mutex.h>
#include <grpc/support/log.h>

#include "common/base/logging.h"

namespace mamori {
namespace {

void LogToSpdlog(gpr_log_func_args* args) {
  static const auto log = GetLogger("grpc");
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      log->debug("{} ({}:{})", args->message, args->file, args->line);
      break;
    case GPR_LOG_SEVERITY_INFO:
      log->info("{}", args->message);
      break;
    case GPR_LOG_SEVERITY_ERROR:
      log->warn("{}", args->message);
      break;
  }
}

}  // namespace

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void RouteGrpcLogging() {
  gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
  gpr_set_log_function(LogToSpdlog);
}

}  // namespace mamori
