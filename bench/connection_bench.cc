// connection_bench: the CPU one new connection between two nodes costs,
// mutual TLS beside plaintext, in one process (both ends counted): a
// server with a node's credentials, and --connections clients that each
// open a connection of their own and make one call over it, one at a
// time. What a cluster starting at once pays for every pair of nodes,
// without the rest of the daemon around it.
//
//   connection_bench [--connections N] [--plaintext]
//
// Prints one JSON object: CPU milliseconds per connection (user + system
// of the whole process) and wall milliseconds per connection.
#include <sys/resource.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include <grpcpp/grpcpp.h>

#include "bench/command_line.h"
#include "core/rpc/channels.h"
#include "core/rpc/grpc_logging.h"
#include "domian/v1/domian.grpc.pb.h"
#include "tests/support/cluster.h"

namespace {

namespace po = boost::program_options;
using namespace std::chrono_literals;

double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Answers GetStatus with an empty status: a call that needs no daemon.
class StatusOnly final : public domian::v1::Domain::Service {
  grpc::Status GetStatus(grpc::ServerContext*, const domian::v1::GetStatusRequest*,
                         domian::v1::GetStatusResponse*) override {
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("connection_bench");
  options.add_options()
      ("connections", po::value<int>()->default_value(200), "connections opened, one at a time")
      ("plaintext", po::bool_switch(), "without TLS")
      ("help,h", "this help");
  po::variables_map args;
  if (const auto stop = domian::bench::ParseCommandLine(argc, argv, options, args)) return *stop;
  const int connections = args["connections"].as<int>();
  const bool plaintext = args["plaintext"].as<bool>();
  // As the daemon does: the server-name line every TLS connection brings
  // goes to debug, which is not shown.
  domian::rpc::RouteGrpcLogs();

  StatusOnly service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0",
                           plaintext ? grpc::InsecureServerCredentials()
                                     : domian::testing::TestServerCredentials("bench", "server"),
                           &port);
  builder.RegisterService(&service);
  const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  // One set of credentials for every connection, as a node has.
  const auto credentials = plaintext ? grpc::InsecureChannelCredentials()
                                     : domian::testing::TestCredentials("bench", "client");

  int failed = 0;
  const double cpu_before = CpuSeconds();
  const auto wall_before = std::chrono::steady_clock::now();
  for (int i = 0; i < connections; ++i) {
    grpc::ChannelArguments channel_args = domian::rpc::DomainChannelArguments();
    // A connection of its own: gRPC would otherwise share one.
    channel_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    const auto channel = grpc::CreateCustomChannel(address, credentials, channel_args);
    const auto stub = domian::v1::Domain::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    domian::v1::GetStatusResponse response;
    if (!stub->GetStatus(&context, domian::v1::GetStatusRequest(), &response).ok()) ++failed;
  }
  const double cpu_ms = (CpuSeconds() - cpu_before) * 1000;
  const double wall_ms = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - wall_before)
                             .count();
  server->Shutdown(std::chrono::system_clock::now() + 1s);
  std::cout << nlohmann::json{{"scenario", "connection"},
                              {"transport", plaintext ? "plaintext" : "mtls"},
                              {"connections", connections},
                              {"failed", failed},
                              {"cpu_ms_per_connection", cpu_ms / connections},
                              {"wall_ms_per_connection", wall_ms / connections}}
                   .dump()
            << "\n";
  return failed == 0 ? 0 : 1;
}
