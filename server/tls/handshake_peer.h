#pragma once

#include <string>

namespace mamori {

// Tells the TLS verifier which remote address the handshake it is checking
// came from. gRPC hands its certificate verifier the peer's certificates but
// not the connection, so whoever accepted the connection keeps the address
// where the verifier can ask for it.
class HandshakePeerSource {
 public:
  virtual ~HandshakePeerSource() = default;

  // The remote address ("ipv4:127.0.0.1:50432", "ipv6:[::1]:50432") of the
  // handshake now being verified, or "" when it is not known. Called once per
  // handshake, from gRPC's threads.
  virtual std::string CurrentPeer() = 0;
};

}  // namespace mamori
