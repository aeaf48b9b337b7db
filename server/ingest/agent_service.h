#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/base/clock.h"
#include "mamori/v1/agent.grpc.pb.h"
#include "server/ingest/certificate_renewer.h"
#include "server/ingest/ingest_limits.h"
#include "server/ingest/ingest_writer.h"
#include "server/ingest/report_observer.h"
#include "server/policy/policy_hub.h"
#include "server/store/store.h"

namespace mamori {

// The agent-facing service. Identity comes from the verified client
// certificate; a body that names another terminal is refused. Writes go
// through the IngestWriter and are acknowledged only once committed.
class AgentServiceImpl final : public v1::AgentService::CallbackService {
 public:
  // `observer`, when given, hears of every state report once it is stored.
  // `renewer`, when given, answers RenewCertificate (else UNIMPLEMENTED).
  AgentServiceImpl(Store* store, IngestWriter* writer, PolicyHub* hub, const Clock* clock,
                   CollectorLimits limits, ReportObserver* observer = nullptr,
                   CertificateRenewer* renewer = nullptr);

  grpc::ServerUnaryReactor* ReportState(grpc::CallbackServerContext* ctx,
                                        const v1::StateReport* request,
                                        v1::StateAck* response) override;
  grpc::ServerUnaryReactor* ReportEvents(grpc::CallbackServerContext* ctx,
                                         const v1::EventBatch* request,
                                         v1::EventAck* response) override;
  grpc::ServerWriteReactor<v1::PolicyBundle>* WatchPolicy(
      grpc::CallbackServerContext* ctx, const v1::WatchPolicyRequest* request) override;
  grpc::ServerUnaryReactor* RenewCertificate(grpc::CallbackServerContext* ctx,
                                             const v1::RenewCertificateRequest* request,
                                             v1::IssuedCertificate* response) override;

 private:
  Store* store_;
  IngestWriter* writer_;
  PolicyHub* hub_;
  const Clock* clock_;
  CollectorLimits limits_;
  ReportObserver* observer_;
  CertificateRenewer* renewer_;
  // The certificate each terminal last reported with, so it is stored only
  // when it changes (the collector derives unlock keys from it).
  std::mutex certs_mu_;
  std::map<std::string, std::string> certs_;  // guarded by certs_mu_
};

}  // namespace mamori
