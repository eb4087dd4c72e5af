#include "bench/junk_sender.h"

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <memory>

#include "domian/v1/domian.grpc.pb.h"
#include "tests/support/cluster.h"

namespace domian::bench {
namespace {

// A call that takes longer is counted refused; the next round goes on.
constexpr auto kCallDeadline = std::chrono::seconds(2);
// A restarted victim is sent to again within about a second, not after
// gRPC's default reconnect backoff (up to two minutes).
constexpr int kMaxReconnectBackoffMs = 1000;
constexpr uint32_t kProtocol = 1;
// Junk rows live at 127.77.X.Y on a reserved port: loopback, where nobody
// listens, so a node that dials them is refused at once.
constexpr int kHostsPerOctet = 250;

std::string JunkAddress(size_t index, uint16_t port) {
  const size_t third = index / kHostsPerOctet, fourth = index % kHostsPerOctet + 1;
  return "127.77." + std::to_string(third) + "." + std::to_string(fourth) + ":" +
         std::to_string(port);
}

void FillRow(v1::IdentityEntry& row, const std::string& id, const std::string& address,
             const std::string& cluster) {
  row.set_id(id);
  row.set_incarnation(1);
  row.set_heartbeat(1);
  row.set_revision(1);
  row.set_state(v1::PEER_STATE_ALIVE);
  v1::Identity* identity = row.mutable_identity();
  identity->set_id(id);
  identity->set_cluster(cluster);
  identity->set_version("0.1.0");
  identity->set_address(address);
  identity->set_protocol(kProtocol);
}

}  // namespace

JunkSender::JunkSender(std::vector<std::string> targets, Options options)
    : targets_(std::move(targets)), options_(std::move(options)) {}

JunkSender::~JunkSender() { Stop(); }

void JunkSender::Start() { thread_ = std::thread([this] { Run(); }); }

void JunkSender::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

JunkSender::Counts JunkSender::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void JunkSender::Run() {
  const uint16_t port = testing::FreeLoopbackPort();  // reserved: nobody else listens there
  v1::ShareIdentityListRequest request;
  FillRow(*request.mutable_sender(), "stranger", JunkAddress(options_.rows, port),
          options_.cluster);
  for (size_t i = 0; i < options_.rows; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "junk-%04zu", i);
    FillRow(*request.add_identity_list(), id, JunkAddress(i, port), options_.cluster);
  }
  std::vector<std::unique_ptr<v1::Domain::Stub>> stubs;
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  for (const std::string& target : targets_) {
    stubs.push_back(v1::Domain::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments)));
  }
  for (uint64_t round = 1;; ++round) {
    // Every row's heartbeat grows: each round is news to a node that
    // believes the rows.
    request.mutable_sender()->set_heartbeat(round);
    for (v1::IdentityEntry& row : *request.mutable_identity_list()) row.set_heartbeat(round);
    for (const auto& stub : stubs) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
      v1::ShareIdentityListResponse response;
      const bool ok = stub->ShareIdentityList(&context, request, &response).ok();
      std::lock_guard lock(mu_);
      ++counts_.sent;
      ++(ok ? counts_.accepted : counts_.refused);
      if (stopping_) return;
    }
    std::unique_lock lock(mu_);
    if (wake_.wait_for(lock, options_.interval, [this] { return stopping_; })) return;
  }
}

}  // namespace domian::bench
