#pragma once

#include <grpcpp/server.h>

#include <memory>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "server/accounts/auth.h"
#include "server/admin/admin_service.h"
#include "server/admin/compliance_recorder.h"
#include "server/app/collector_config.h"
#include "server/audit/audit_trail.h"
#include "server/compliance/compliance_index.h"
#include "server/enrollment/enrollment_service.h"
#include "server/enrollment/enrollment_workflow.h"
#include "server/exceptions/exception_workflow.h"
#include "server/ingest/agent_service.h"
#include "server/ingest/ingest_writer.h"
#include "server/ledger/media_ledger.h"
#include "server/policy/policy_hub.h"
#include "server/store/store.h"
#include "server/web/http_handler.h"
#include "server/web/web_server.h"

namespace mamori {

// The running collector: store, write queue, policy hub and both services
// on one mutually authenticated TLS port.
class CollectorServer {
 public:
  // Loads credentials, opens and migrates the store, binds the port. Every
  // failure names what and where (file, field, address).
  static Result<std::unique_ptr<CollectorServer>> Start(const CollectorConfig& config,
                                                        const Clock* clock);
  ~CollectorServer();

  int port() const { return port_; }
  // The enrollment port; 0 when enrollment.listen is not configured.
  int enrollment_port() const { return enrollment_port_; }
  // The dashboard's HTTPS port; 0 when web is not configured.
  int web_port() const { return web_server_ ? web_server_->port() : 0; }
  // Stops accepting calls, lets in-flight calls finish (up to a deadline),
  // commits queued writes and closes the store.
  void Shutdown();

 private:
  CollectorServer() = default;

  std::unique_ptr<Store> store_;
  std::unique_ptr<IngestWriter> writer_;
  std::unique_ptr<PolicyHub> hub_;
  std::unique_ptr<ComplianceIndex> index_;
  std::unique_ptr<EnrollmentWorkflow> enrollment_;
  std::unique_ptr<EnrollmentServiceImpl> enrollment_service_;
  std::unique_ptr<grpc::Server> enrollment_server_;
  int enrollment_port_ = 0;
  std::unique_ptr<AgentServiceImpl> agent_service_;
  std::unique_ptr<web::AuthService> auth_;
  std::unique_ptr<StoreAuditTrail> audit_;
  std::unique_ptr<MediaLedger> ledger_;
  std::unique_ptr<ExceptionWorkflow> exceptions_;
  std::unique_ptr<UnlockIssuer> unlock_;
  std::unique_ptr<AdminQueries> queries_;
  std::unique_ptr<ComplianceRecorder> recorder_;
  std::unique_ptr<web::WebHandler> web_handler_;
  std::unique_ptr<web::WebServer> web_server_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace mamori
