// Channels keeps what connects and drops what does not.
#include "core/rpc/channels.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace domian::rpc {
namespace {

using namespace std::chrono_literals;

// A Domain server that implements nothing, on a free loopback port.
class EmptyServer {
 public:
  EmptyServer() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  ~EmptyServer() { server_->Shutdown(std::chrono::system_clock::now() + 1s); }
  const std::string& address() const { return address_; }

 private:
  v1::Domain::Service service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// A loopback port nobody listens on (bound, then closed).
std::string DeadAddress() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

// Waits (polling the stub's channel through a call) until a call to the
// stub has failed or succeeded once: the channel has tried to connect.
void Touch(const std::shared_ptr<v1::Domain::Stub>& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 2s);
  context.set_wait_for_ready(false);
  v1::GetStatusResponse response;
  (void)stub->GetStatus(&context, v1::GetStatusRequest(), &response);
}

TEST(ChannelsTest, ForgetKeepsAConnectedChannelAndDropsOneThatCannotConnect) {
  Channels channels(grpc::InsecureChannelCredentials());
  EmptyServer server;
  const auto live = channels.Stub(server.address(), Channels::Purpose::kMembership);
  Touch(live);  // UNIMPLEMENTED, over a connection that is now READY
  channels.Forget(server.address());
  EXPECT_EQ(channels.Stub(server.address(), Channels::Purpose::kMembership), live)
      << "a connected channel is kept: making it again would cost a handshake";

  const std::string dead = DeadAddress();
  const auto refused = channels.Stub(dead, Channels::Purpose::kMembership);
  Touch(refused);  // connection refused: TRANSIENT_FAILURE
  channels.Forget(dead);
  EXPECT_NE(channels.Stub(dead, Channels::Purpose::kMembership), refused)
      << "a channel that cannot connect is dropped, so it stops reconnecting";
}

// A loopback port that takes TCP connections and never says a word: a
// TLS handshake with it stays unfinished until the connect timeout.
class SilentListener {
 public:
  SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length);
    ::listen(fd_, 16);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    address_ = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  }
  ~SilentListener() { ::close(fd_); }
  const std::string& address() const { return address_; }

 private:
  int fd_;
  std::string address_;
};

TEST(ChannelsTest, AConnectionBeingOpenedTakesRoomAndAnOpenOneNeedsNone) {
  Channels plain(grpc::InsecureChannelCredentials());
  EmptyServer server;
  EXPECT_TRUE(plain.NeedsConnection(server.address(), Channels::Purpose::kMembership));
  EXPECT_EQ(plain.ConnectionRoom(), kMaxConnectionsOpening);
  Touch(plain.Stub(server.address(), Channels::Purpose::kMembership));
  EXPECT_FALSE(plain.NeedsConnection(server.address(), Channels::Purpose::kMembership))
      << "connected";
  EXPECT_EQ(plain.ConnectionRoom(), kMaxConnectionsOpening);

  // A TLS handshake the far side never answers keeps its channel
  // connecting for kConnectTimeoutMs; a loaded machine may let that pass
  // before it is looked at, so a few tries.
  Channels tls(grpc::SslCredentials(grpc::SslCredentialsOptions()));
  SilentListener silent;
  const auto stub = tls.Stub(silent.address(), Channels::Purpose::kMembership);
  bool seen_opening = false;
  for (int attempt = 0; attempt < 10 && !seen_opening; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 100ms);
    v1::GetStatusResponse response;
    (void)stub->GetStatus(&context, v1::GetStatusRequest(), &response);
    seen_opening = tls.ConnectionRoom() == kMaxConnectionsOpening - 1 &&
                   !tls.NeedsConnection(silent.address(), Channels::Purpose::kMembership);
  }
  EXPECT_TRUE(seen_opening) << "a connection being opened takes one place, and needs no other";
}

}  // namespace
}  // namespace domian::rpc
