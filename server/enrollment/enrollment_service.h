#pragma once

#include "mamori/v1/enrollment.grpc.pb.h"
#include "server/enrollment/enrollment_workflow.h"
#include "server/ingest/certificate_renewer.h"

namespace mamori {

// EnrollmentService on the enrollment port: no client certificate, so
// everything in a request is hostile and bounded before use.
class EnrollmentServiceImpl final : public v1::EnrollmentService::CallbackService {
 public:
  explicit EnrollmentServiceImpl(EnrollmentWorkflow* workflow) : workflow_(workflow) {}

  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* ctx,
                                   const v1::EnrollRequest* request,
                                   v1::IssuedCertificate* response) override;

 private:
  EnrollmentWorkflow* workflow_;
};

}  // namespace mamori
