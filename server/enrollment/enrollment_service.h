#pragma once

#include "mamori/v1/admin.pb.h"
#include "mamori/v1/enrollment.grpc.pb.h"
#include "server/enrollment/enrollment_workflow.h"
#include "server/ingest/certificate_renewer.h"

namespace mamori {

// Wire forms of tokens and enrollments (admin API and dashboard alike).
void ToProto(const EnrollToken& t, v1::EnrollTokenView* out);
void ToProto(const EnrollmentRecord& e, v1::EnrollmentView* out);

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
