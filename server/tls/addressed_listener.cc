#include "server/tls/addressed_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/base/logging.h"

namespace mamori {
namespace {

using Clock = std::chrono::steady_clock;

// After gRPC has shut a socket down it will not verify on it any more; the
// grace covers a peer reset that races a verification already under way.
constexpr std::chrono::milliseconds kHangupGrace{2'000};
// gRPC's handshake deadline starts a moment after the hand-over; this is
// that moment with a wide margin.
constexpr std::chrono::milliseconds kDeadlineMargin{5'000};

Result<std::pair<std::string, std::string>> SplitHostPort(std::string_view listen) {
  std::string host;
  std::string port;
  if (listen.starts_with('[')) {
    const auto close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return MakeError(ErrorCode::kInvalidArgument,
                       "listen address \"" + std::string(listen) + "\": expected [v6]:port");
    }
    host = std::string(listen.substr(1, close - 1));
    port = std::string(listen.substr(close + 2));
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "listen address \"" + std::string(listen) + "\": expected host:port");
    }
    host = std::string(listen.substr(0, colon));
    port = std::string(listen.substr(colon + 1));
  }
  if (port.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "listen address \"" + std::string(listen) + "\": no port");
  }
  return std::make_pair(host, port);
}

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

std::string FormatPeerAddress(const void* sockaddr, std::size_t len) {
  char buf[INET6_ADDRSTRLEN] = {};
  const auto* sa = static_cast<const struct sockaddr*>(sockaddr);
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = static_cast<const sockaddr_in*>(sockaddr);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    return "ipv4:" + std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = static_cast<const sockaddr_in6*>(sockaddr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, buf, sizeof(buf));
      return "ipv4:" + std::string(buf) + ":" + std::to_string(ntohs(in6->sin6_port));
    }
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    return "ipv6:[" + std::string(buf) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "unknown address family " + std::to_string(sa->sa_family);
}

class AddressedListener::Impl {
 public:
  // One external acceptor and what it knows about the handshake it serves.
  class Slot final : public HandshakePeerSource {
   public:
    explicit Slot(Impl* owner) : owner_(owner) {}

    std::string CurrentPeer() override {
      std::lock_guard lock(owner_->mu_);
      if (!busy || verified) return {};
      verified = true;
      owner_->Wake();
      return address;
    }

    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor;
    // Guarded by owner_->mu_.
    bool busy = false;
    bool verified = false;
    std::string address;
    int watch_fd = -1;  // a duplicate of the handed-over socket, to see gRPC close it
    Clock::time_point deadline;
    std::optional<Clock::time_point> hung_up_at;

   private:
    Impl* owner_;
  };

  explicit Impl(AddressedListener::Options options) : options_(options) {}

  ~Impl() {
    Stop();
    for (auto& slot : slots_) {
      if (slot->watch_fd >= 0) ::close(slot->watch_fd);
    }
    // Closed last: verifiers may still wake the (stopped) thread until the
    // server is gone.
    for (int fd : wake_) {
      if (fd >= 0) ::close(fd);
    }
  }

  Status Bind(std::string_view listen) {
    Result<std::pair<std::string, std::string>> hp = SplitHostPort(listen);
    if (!hp) return hp.error();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string host = hp->first;
    const int rc =
        ::getaddrinfo(host.empty() ? nullptr : host.c_str(), hp->second.c_str(), &hints, &found);
    if (rc != 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "listen address \"" + std::string(listen) + "\": " + gai_strerror(rc));
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
    for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      sockaddr_storage addr{};
      std::memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
      // Every address of a name shares the port the first one got.
      if (port_ != 0) {
        if (addr.ss_family == AF_INET)
          reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port_);
        if (addr.ss_family == AF_INET6) {
          reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port_);
        }
      }
      const int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return MakeError(ErrorCode::kUnavailable, "socket: " + ErrnoText(errno));
      listen_fds_.push_back(fd);
      const int one = 1;
      const int zero = 0;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      // "[::]" serves IPv4 too, as gRPC's own listener does.
      if (ai->ai_family == AF_INET6)
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
      if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), ai->ai_addrlen) != 0 ||
          ::listen(fd, SOMAXCONN) != 0) {
        const int err = errno;
        // A name resolving to both ::1 and 127.0.0.1 where the dual-stack
        // socket already took the IPv4 side.
        if (err == EADDRINUSE && ai != found) {
          ::close(listen_fds_.back());
          listen_fds_.pop_back();
          continue;
        }
        return MakeError(ErrorCode::kUnavailable,
                         "cannot listen on " + std::string(listen) + ": " + ErrnoText(err));
      }
      if (port_ == 0) {
        sockaddr_storage bound{};
        socklen_t len = sizeof(bound);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
        port_ =
            ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                             : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
      }
    }
    if (listen_fds_.empty()) {
      return MakeError(ErrorCode::kUnavailable, "cannot listen on " + std::string(listen));
    }
    if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) {
      return MakeError(ErrorCode::kUnavailable, "pipe: " + ErrnoText(errno));
    }
    return Status::Ok();
  }

  void Register(grpc::ServerBuilder& builder, const CredentialsFactory& credentials) {
    using Type = grpc::ServerBuilder::experimental_type::ExternalConnectionType;
    for (int i = 0; i < options_.slots; ++i) {
      auto slot = std::make_unique<Slot>(this);
      slot->acceptor = builder.experimental().AddExternalConnectionAcceptor(
          Type::FROM_FD, credentials(slot.get()));
      slots_.push_back(std::move(slot));
    }
    overflow_ =
        builder.experimental().AddExternalConnectionAcceptor(Type::FROM_FD, credentials(nullptr));
    builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                               static_cast<int>(options_.handshake_timeout.count()));
  }

  void Start() {
    thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  }

  void Stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      Wake();
      thread_.join();
    }
    for (int fd : listen_fds_) ::close(fd);
    listen_fds_.clear();
  }

  int port() const { return port_; }

  void Wake() {
    const char byte = 1;
    if (wake_[1] >= 0) [[maybe_unused]]
      auto n = ::write(wake_[1], &byte, 1);
  }

 private:
  void Run(std::stop_token stop) {
    static const auto log = GetLogger("tls");
    std::vector<pollfd> fds;
    std::vector<Slot*> watched;
    while (!stop.stop_requested()) {
      fds.clear();
      watched.clear();
      fds.push_back({wake_[0], POLLIN, 0});
      for (int fd : listen_fds_) fds.push_back({fd, POLLIN, 0});
      int timeout_ms = -1;
      {
        std::lock_guard lock(mu_);
        const auto now = Clock::now();
        for (auto& slot : slots_) {
          if (!slot->busy) continue;
          auto until = slot->deadline;
          if (slot->hung_up_at) until = std::min(until, *slot->hung_up_at + kHangupGrace);
          const auto ms =
              std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
          timeout_ms = timeout_ms < 0
                           ? static_cast<int>(std::max<int64_t>(ms, 0) + 1)
                           : std::min(timeout_ms, static_cast<int>(std::max<int64_t>(ms, 0) + 1));
          if (!slot->hung_up_at && slot->watch_fd >= 0) {
            fds.push_back({slot->watch_fd, POLLRDHUP, 0});
            watched.push_back(slot.get());
          }
        }
      }
      const int n = ::poll(fds.data(), fds.size(), timeout_ms);
      if (n < 0 && errno != EINTR) {
        log->error("listener poll failed: {}", ErrnoText(errno));
        return;
      }
      if (fds[0].revents != 0) {
        char buf[64];
        while (::read(wake_[0], buf, sizeof(buf)) > 0) {
        }
      }
      {
        std::lock_guard lock(mu_);
        const std::size_t first_watch = 1 + listen_fds_.size();
        for (std::size_t i = 0; i < watched.size(); ++i) {
          // POLLHUP only: both directions are shut, i.e. gRPC gave up on the
          // socket (or the peer reset it). A peer's mere FIN (POLLRDHUP) is
          // still gRPC's to read.
          if ((fds[first_watch + i].revents & (POLLHUP | POLLERR)) != 0) {
            watched[i]->hung_up_at = Clock::now();
          }
        }
        const auto now = Clock::now();
        for (auto& slot : slots_) {
          if (!slot->busy) continue;
          const bool expired = now >= slot->deadline ||
                               (slot->hung_up_at && now >= *slot->hung_up_at + kHangupGrace);
          if (!slot->verified && expired) {
            // The TLS stack itself refused (no shared cipher or curve, bad
            // signature on the handshake) or the peer gave up: gRPC logs
            // neither with an address, so this is the line that has it.
            log->warn(
                "connection from {} refused: TLS handshake failed or was abandoned before "
                "its client certificate reached verification",
                slot->address);
          }
          if (slot->verified || expired) Release(*slot);
        }
      }
      for (std::size_t i = 0; i < listen_fds_.size(); ++i) {
        if ((fds[1 + i].revents & POLLIN) != 0) AcceptAll(listen_fds_[i]);
      }
    }
  }

  // Guarded by mu_.
  void Release(Slot& slot) {
    if (slot.watch_fd >= 0) ::close(slot.watch_fd);
    slot.watch_fd = -1;
    slot.busy = false;
    slot.verified = false;
    slot.hung_up_at.reset();
    slot.address.clear();
  }

  void AcceptAll(int listen_fd) {
    static const auto log = GetLogger("tls");
    for (;;) {
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        // Out of descriptors and the like: log, and let poll retry.
        log->warn("accept failed: {}", ErrnoText(errno));
        return;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      const std::string address = FormatPeerAddress(&addr, len);
      grpc::experimental::ExternalConnectionAcceptor* target = overflow_.get();
      {
        std::lock_guard lock(mu_);
        for (auto& slot : slots_) {
          if (slot->busy) continue;
          slot->busy = true;
          slot->verified = false;
          slot->address = address;
          slot->watch_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
          slot->deadline = Clock::now() + options_.handshake_timeout + kDeadlineMargin;
          target = slot->acceptor.get();
          break;
        }
      }
      if (target == overflow_.get()) {
        log->warn(
            "connection from {}: all {} handshake slots busy; a refusal of this handshake "
            "will be logged without its address",
            address, slots_.size());
      }
      grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters params;
      params.listener_fd = listen_fd;
      params.fd = fd;
      target->HandleNewConnection(&params);
    }
  }

  AddressedListener::Options options_;
  std::vector<int> listen_fds_;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> overflow_;
  std::jthread thread_;
};

AddressedListener::AddressedListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AddressedListener::~AddressedListener() = default;

Result<std::unique_ptr<AddressedListener>> AddressedListener::Create(
    std::string_view listen, grpc::ServerBuilder& builder, const CredentialsFactory& credentials,
    Options options) {
  if (options.slots < 1) options.slots = 1;
  auto impl = std::make_unique<Impl>(options);
  if (Status s = impl->Bind(listen); !s) return s.error();
  impl->Register(builder, credentials);
  return std::unique_ptr<AddressedListener>(new AddressedListener(std::move(impl)));
}

int AddressedListener::port() const { return impl_->port(); }
void AddressedListener::Start() { impl_->Start(); }
void AddressedListener::Stop() { impl_->Stop(); }

}  // namespace mamori
