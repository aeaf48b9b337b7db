#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "server/tls/handshake_peer.h"

namespace mamori {

// The collector's listening port, accepted by us rather than by gRPC, so that
// every TLS refusal can name the address it came from.
//
// gRPC 1.51 gives its certificate verifier the peer's certificates but not the
// connection (TlsServerSecurityConnector::check_peer ignores the endpoint it
// is handed), and logs failed handshakes without an address. So the listener
// registers `slots` external connection acceptors with the ServerBuilder, each
// with its own credentials and therefore its own verifier, and hands every
// accepted socket to a free one after noting the socket's address in it. A
// slot serves one handshake at a time: it is free again once its verifier has
// asked for the address, gRPC has closed the socket, or the handshake
// deadline has passed. When every slot is busy (a burst, or clients that stall
// their handshakes) the socket goes to one more acceptor whose verifier logs
// "unknown address", and the accept line carries the address instead:
// connections are never held back, and a refusal never names the wrong peer.
class AddressedListener {
 public:
  struct Options {
    int slots = 64;
    // Also set as the server's handshake timeout, so a slot is never freed
    // while gRPC could still verify on it.
    std::chrono::milliseconds handshake_timeout{20'000};
  };
  using CredentialsFactory =
      std::function<std::shared_ptr<grpc::ServerCredentials>(HandshakePeerSource* peers)>;

  // Binds `listen` ("host:port", "[v6]:port"; port 0 picks one) and registers
  // the acceptors with `builder`. Call before builder.BuildAndStart(), then
  // Start() after it.
  static Result<std::unique_ptr<AddressedListener>> Create(std::string_view listen,
                                                           grpc::ServerBuilder& builder,
                                                           const CredentialsFactory& credentials,
                                                           Options options);
  AddressedListener(const AddressedListener&) = delete;
  AddressedListener& operator=(const AddressedListener&) = delete;
  ~AddressedListener();

  int port() const;
  // Starts accepting; the server must be started.
  void Start();
  // Stops accepting and closes the listening sockets. Call before shutting
  // the server down (gRPC leaks sockets handed to it after shutdown).
  void Stop();

 private:
  class Impl;
  explicit AddressedListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "ipv4:127.0.0.1:5000" or "ipv6:[::1]:5000", as grpc::ServerContext::peer()
// writes it (an IPv4-mapped IPv6 address is written as IPv4).
std::string FormatPeerAddress(const void* sockaddr, std::size_t len);

}  // namespace mamori
