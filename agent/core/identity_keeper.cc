#include "agent/core/identity_keeper.h"

#include <algorithm>
#include <utility>

#include "common/base/logging.h"
#include "common/crypto/pki.h"

namespace mamori {
namespace {

using std::chrono::milliseconds;

// Upper bound of one wait, so a wall clock that jumps is noticed soon.
constexpr milliseconds kMaxWait{std::chrono::minutes(1)};

milliseconds Until(int64_t at_ms, int64_t now_ms) {
  return std::clamp(milliseconds(at_ms - now_ms), milliseconds(0), kMaxWait);
}

}  // namespace

IdentityKeeper::IdentityKeeper(IdentityKeeperDeps deps, IdentityKeeperOptions options,
                               std::optional<TerminalIdentity> current,
                               std::shared_ptr<spdlog::logger> logger)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      log_(logger ? std::move(logger) : GetLogger("identity")),
      current_(std::move(current)),
      enroll_backoff_(options_.backoff_initial, options_.backoff_max, options_.random) {
  if (current_) {
    schedule_.emplace(current_->not_before_ms, current_->not_after_ms, options_.backoff_initial,
                      options_.backoff_max, options_.random);
  }
}

IdentityKeeper::~IdentityKeeper() { Stop(); }

std::optional<TerminalIdentity> IdentityKeeper::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string IdentityKeeper::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void IdentityKeeper::Start() {
  thread_ = std::jthread([this](std::stop_token) {
    for (;;) {
      const milliseconds wait = Step();
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
    }
  });
}

void IdentityKeeper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

milliseconds IdentityKeeper::Step() {
  const int64_t now = deps_.clock->NowMs();
  bool enrolled = false;
  {
    std::lock_guard lock(mu_);
    enrolled = current_.has_value();
  }
  if (!enrolled) return StepEnroll(now);
  if (pending_) return StepProbation(now);
  return StepRenew(now);
}

milliseconds IdentityKeeper::StepEnroll(int64_t now) {
  ++enroll_attempts_;
  Result<TerminalIdentity> enrolled = Enroll();
  if (!enrolled.ok()) {
    const milliseconds delay = std::max(enroll_backoff_.Next(), milliseconds(100));
    log_->error("enrollment failed (attempt {}): {}; next attempt in {} ms", enroll_attempts_,
                enrolled.error().message, delay.count());
    std::lock_guard lock(mu_);
    last_error_ = enrolled.error().message;
    return delay;
  }
  log_->info("enrolled as terminal '{}' (certificate valid until {})", enrolled->terminal_id,
             FormatUtc(enrolled->not_after_ms));
  if (deps_.token_used) deps_.token_used();
  deps_.channel->UseIdentity(*enrolled);
  Adopt(*enrolled);
  if (deps_.on_enrolled) deps_.on_enrolled(*enrolled);
  (void)now;
  return milliseconds(0);
}

Result<TerminalIdentity> IdentityKeeper::Enroll() {
  if (deps_.enrollment == nullptr) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the terminal has no certificate and enrollment is not configured");
  }
  Result<std::string> token = deps_.read_token();
  if (!token.ok()) return token.error();
  EnrollmentParams params = options_.enrollment;
  params.token = std::move(*token);
  const std::string name = params.terminal_id.empty() ? params.hostname : params.terminal_id;
  // The key is on disk before the request leaves the terminal, so a crash
  // never leaves a certificate without its key.
  Result<KeyAndRequest> key = deps_.make_key(name);
  if (!key.ok()) return key.error();
  if (Status s = deps_.store->SavePendingKey(key->key_pem); !s.ok()) return s.error();
  params.csr_pem = std::move(key->csr_pem);
  Result<IssuedCertificate> issued = deps_.enrollment->Enroll(params);
  if (!issued.ok()) return issued.error();
  Result<TerminalIdentity> identity = deps_.store->SavePendingCertificate(*issued);
  if (!identity.ok()) return identity.error();
  if (Status s = deps_.store->Promote(); !s.ok()) return s.error();
  return identity;
}

milliseconds IdentityKeeper::StepProbation(int64_t now) {
  if (deps_.channel->IdentityProven()) {
    TerminalIdentity renewed = std::move(*pending_);
    pending_.reset();
    if (Status s = deps_.store->Promote(); !s.ok()) {
      // The new pair stays pending on disk; Load picks it when the old one
      // expires, so this is not fatal.
      log_->error("renewed certificate in use but not made current on disk: {}", s.error().message);
    }
    log_->info("certificate renewed: valid until {}", FormatUtc(renewed.not_after_ms));
    Record(EventKind::kCertificateRenewed, Severity::kInfo,
           "certificate renewed; valid until " + FormatUtc(renewed.not_after_ms));
    Adopt(std::move(renewed));
    return milliseconds(0);
  }
  if (now - pending_since_ms_ < options_.probation.count()) return options_.probation_poll;
  // The collector never accepted the new certificate: go back to the one
  // that works while it is valid and renew again.
  const std::string error = "the renewed certificate was not accepted within " +
                            std::to_string(options_.probation.count() / 1000) + " s";
  log_->warn("{}; using the previous certificate again", error);
  pending_.reset();
  {
    std::lock_guard lock(mu_);
    last_error_ = error;
    deps_.channel->UseIdentity(*current_);
  }
  (void)deps_.store->DiscardPending();
  schedule_->Failed(now);
  return Until(schedule_->next_attempt_ms(), now);
}

milliseconds IdentityKeeper::StepRenew(int64_t now) {
  if (schedule_->Due(now)) {
    Result<TerminalIdentity> renewed = Renew();
    if (renewed.ok()) {
      deps_.channel->UseIdentity(*renewed);
      pending_ = std::move(*renewed);
      pending_since_ms_ = now;
      // A report soon proves the new pair, whatever the report interval.
      if (deps_.notify) deps_.notify();
      log_->info(
          "renewed certificate received (valid until {}); in use once the collector "
          "accepts it",
          FormatUtc(pending_->not_after_ms));
      return milliseconds(0);
    }
    schedule_->Failed(now);
    log_->warn("certificate renewal failed (attempt {}): {}; next attempt in {} ms",
               schedule_->failures(), renewed.error().message, schedule_->next_attempt_ms() - now);
    std::lock_guard lock(mu_);
    last_error_ = renewed.error().message;
  }
  if (schedule_->AlarmDue(now)) RaiseAlarm(now);
  int64_t wake = schedule_->next_attempt_ms();
  if (now < schedule_->alarm_from_ms()) wake = std::min(wake, schedule_->alarm_from_ms());
  return Until(wake, now);
}

Result<TerminalIdentity> IdentityKeeper::Renew() {
  std::string name;
  {
    std::lock_guard lock(mu_);
    name = current_->terminal_id;
  }
  Result<KeyAndRequest> key = deps_.make_key(name);
  if (!key.ok()) return key.error();
  if (Status s = deps_.store->SavePendingKey(key->key_pem); !s.ok()) return s.error();
  Result<IssuedCertificate> issued = deps_.channel->RenewCertificate(key->csr_pem);
  if (!issued.ok()) {
    (void)deps_.store->DiscardPending();
    return issued.error();
  }
  Result<TerminalIdentity> identity = deps_.store->SavePendingCertificate(*issued);
  if (!identity.ok()) {
    (void)deps_.store->DiscardPending();
    return identity.error();
  }
  return identity;
}

void IdentityKeeper::Adopt(TerminalIdentity identity) {
  schedule_.emplace(identity.not_before_ms, identity.not_after_ms, options_.backoff_initial,
                    options_.backoff_max, options_.random);
  std::lock_guard lock(mu_);
  current_ = std::move(identity);
  last_error_.clear();
}

void IdentityKeeper::RaiseAlarm(int64_t now) {
  std::string error = last_error();
  const std::string detail = "certificate expires " + FormatUtc(schedule_->not_after_ms()) +
                             " and renewal keeps failing (" +
                             std::to_string(schedule_->failures()) +
                             " attempts); last error: " + error;
  log_->error("{}", detail);
  Record(EventKind::kCertificateRenewalFailed, Severity::kAlert, detail);
  schedule_->AlarmRaised(now);
}

void IdentityKeeper::Record(EventKind kind, Severity severity, std::string detail) {
  Event e;
  e.time_ms = deps_.clock->NowMs();
  e.kind = kind;
  e.severity = severity;
  e.detail = std::move(detail);
  if (Result<uint64_t> seq = deps_.outbox->Append(std::move(e)); !seq.ok()) {
    log_->error("cannot record {}: {}", EventKindName(kind), seq.error().message);
  }
  if (deps_.notify) deps_.notify();
}

}  // namespace mamori
