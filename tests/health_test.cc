// gRPC health checking and server reflection on a real domiand, as a load
// balancer, a watcher or grpcurl would use them, over the control socket
// and over the mutual-TLS port:
//  - health is NOT_SERVING from the server's start until placement has
//    settled and started what runs here, SERVING then, and NOT_SERVING
//    again as soon as the node begins to stop (a watcher is told before
//    its stream ends);
//  - reflection lists the services and describes domian.v1.Domain, so a
//    client needs no proto files.
//
// Debian ships neither the health nor the reflection proto (nor generated
// code for them) to clients, so the calls are made with grpc::GenericStub
// and the messages written and read with protobuf's schema-less
// UnknownFieldSet; the field numbers are those of grpc/health/v1/
// health.proto and grpc/reflection/v1alpha/reflection.proto.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <set>
#include <string>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Long enough that the NOT_SERVING window cannot be missed however slow
// the machine is between the daemon's start and the first answer.
constexpr auto kLongSettle = 6s;
// Bounds on real time: generous, they only end a test that failed.
constexpr auto kServerUp = 30s;
constexpr auto kCallDeadline = 60s;
constexpr auto kExit = 30s;

constexpr char kCheck[] = "/grpc.health.v1.Health/Check";
constexpr char kWatch[] = "/grpc.health.v1.Health/Watch";
constexpr char kReflect[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
constexpr char kDomainService[] = "domian.v1.Domain";

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class Health { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

std::string Serialize(const UnknownFieldSet& message) {
  std::string bytes;
  EXPECT_TRUE(message.SerializeToString(&bytes));
  return bytes;
}

// HealthCheckRequest { string service = 1; }
std::string HealthRequest(const std::string& service) {
  UnknownFieldSet request;
  request.AddLengthDelimited(1, service);
  return Serialize(request);
}

// HealthCheckResponse { ServingStatus status = 1; } (absent: UNKNOWN)
std::optional<Health> ParseHealth(const std::string& bytes) {
  UnknownFieldSet response;
  if (!response.ParseFromString(bytes)) return std::nullopt;
  auto status = Health::kUnknown;
  for (int i = 0; i < response.field_count(); ++i) {
    const UnknownField& field = response.field(i);
    if (field.number() == 1 && field.type() == UnknownField::TYPE_VARINT) {
      status = static_cast<Health>(field.varint());
    }
  }
  return status;
}

// The length-delimited fields numbered `number` of `bytes`.
std::vector<std::string> Fields(const std::string& bytes, int number) {
  UnknownFieldSet message;
  std::vector<std::string> out;
  if (!message.ParseFromString(bytes)) return out;
  for (int i = 0; i < message.field_count(); ++i) {
    const UnknownField& field = message.field(i);
    if (field.number() == number && field.type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      out.push_back(field.length_delimited());
    }
  }
  return out;
}

// One call of any kind (unary, streaming) with the messages as bytes, on
// a completion queue of its own, one step at a time. Each step blocks
// until done; the call's deadline bounds them all.
class RawCall {
 public:
  RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method)
      : stub_(channel) {
    context_.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    // A connection that fails on a loaded machine is made again until the
    // deadline: these tests are about the answers, not about connecting.
    context_.set_wait_for_ready(true);
    call_ = stub_.PrepareCall(&context_, method, &queue_);
    call_->StartCall(this);
    started_ = Step();
  }
  ~RawCall() {
    context_.TryCancel();
    if (started_ && !finished_) Finish();
    queue_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (queue_.Next(&tag, &ok)) {
    }
  }
  RawCall(const RawCall&) = delete;
  RawCall& operator=(const RawCall&) = delete;

  bool Send(const std::string& bytes, bool last = false) {
    if (!started_) return false;
    grpc::Slice slice(bytes);
    const grpc::ByteBuffer message(&slice, 1);
    if (last) {
      call_->WriteLast(message, grpc::WriteOptions(), this);
    } else {
      call_->Write(message, this);
    }
    return Step();
  }
  // The next message; nullopt once the stream ended (Finish says why).
  std::optional<std::string> Receive() {
    if (!started_) return std::nullopt;
    grpc::ByteBuffer message;
    call_->Read(&message, this);
    if (!Step()) return std::nullopt;
    std::vector<grpc::Slice> slices;
    if (!message.Dump(&slices).ok()) return std::nullopt;
    std::string bytes;
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    return bytes;
  }
  grpc::Status Finish() {
    if (!started_) return {grpc::StatusCode::UNAVAILABLE, "the call did not start"};
    grpc::Status status;
    call_->Finish(&status, this);
    Step();
    finished_ = true;
    return status;
  }

 private:
  // Only one operation is ever outstanding: the next event is its end.
  bool Step() {
    void* tag = nullptr;
    bool ok = false;
    return queue_.Next(&tag, &ok) && ok;
  }

  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
  bool finished_ = false;
};

// Health/Check for `service`: the status, or the call's error.
struct CheckResult {
  grpc::Status call;
  std::optional<Health> health;
};
CheckResult Check(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  RawCall call(channel, kCheck);
  std::optional<std::string> reply;
  if (call.Send(HealthRequest(service), /*last=*/true)) reply = call.Receive();
  CheckResult result{call.Finish(), std::nullopt};
  if (result.call.ok() && reply) result.health = ParseHealth(*reply);
  if (!result.call.ok()) {
    std::cerr << "Check(\"" << service << "\"): " << result.call.error_code() << " "
              << result.call.error_message() << std::endl;
  }
  return result;
}

// Health/Watch for `service`: every change, as the server sends it.
class Watch {
 public:
  Watch(const std::shared_ptr<grpc::Channel>& channel, const std::string& service)
      : call_(channel, kWatch) {
    call_.Send(HealthRequest(service), /*last=*/true);
  }
  // The next status sent; nullopt when the stream ended instead.
  std::optional<Health> Next() {
    const std::optional<std::string> reply = call_.Receive();
    return reply ? ParseHealth(*reply) : std::nullopt;
  }

 private:
  RawCall call_;
};

// ServerReflectionRequest { oneof { string file_containing_symbol = 4;
// string list_services = 7; } }, one request, its one response.
std::optional<std::string> Reflect(const std::shared_ptr<grpc::Channel>& channel, int field,
                                   const std::string& value) {
  UnknownFieldSet request;
  request.AddLengthDelimited(field, value);
  RawCall call(channel, kReflect);
  if (!call.Send(Serialize(request), /*last=*/true)) return std::nullopt;
  std::optional<std::string> response = call.Receive();
  const grpc::Status status = call.Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

// ServerReflectionResponse.list_services_response (6) ->
// ListServiceResponse.service (1) -> ServiceResponse.name (1).
std::set<std::string> ListServices(const std::shared_ptr<grpc::Channel>& channel) {
  std::set<std::string> names;
  const std::optional<std::string> response = Reflect(channel, 7, "");
  if (!response) return names;
  for (const std::string& list : Fields(*response, 6)) {
    for (const std::string& service : Fields(list, 1)) {
      for (const std::string& name : Fields(service, 1)) names.insert(name);
    }
  }
  return names;
}

// ServerReflectionResponse.file_descriptor_response (4) ->
// FileDescriptorResponse.file_descriptor_proto (1, repeated bytes): the
// file defining `symbol` and the files it imports.
std::vector<google::protobuf::FileDescriptorProto> FilesFor(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& symbol) {
  std::vector<google::protobuf::FileDescriptorProto> files;
  const std::optional<std::string> response = Reflect(channel, 4, symbol);
  if (!response) return files;
  for (const std::string& found : Fields(*response, 4)) {
    for (const std::string& bytes : Fields(found, 1)) {
      google::protobuf::FileDescriptorProto file;
      if (file.ParseFromString(bytes)) files.push_back(std::move(file));
    }
  }
  return files;
}

// Channels that try again every 100 ms while the daemon is not up yet:
// gRPC's default backoff (1 s, growing) could leave the first answer
// later than the settle period on a slow machine.
grpc::ChannelArguments QuickReconnects() {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  return arguments;
}

// The control socket, as root or group domian on the machine would.
std::shared_ptr<grpc::Channel> ControlChannel(const Daemon& daemon) {
  return grpc::CreateCustomChannel("unix:" + daemon.control_socket().string(),
                                   grpc::InsecureChannelCredentials(), QuickReconnects());
}

// The TLS port, with a certificate of the cluster for `id` in `role`.
std::shared_ptr<grpc::Channel> TlsChannel(const Daemon& daemon, const std::string& id,
                                          const std::string& role) {
  return grpc::CreateCustomChannel(daemon.address(), TestCredentials("test", id, role),
                                   QuickReconnects());
}

// The first answer of `daemon`'s health check for "". Asked once the
// daemon logged that it listens, which it does after telling the health
// service NOT_SERVING: gRPC's default says SERVING for "" until told, and
// a probe on the control socket in the moment between the server's start
// and that (microseconds; more when the machine is loaded) hears it.
std::optional<Health> FirstHealth(const Daemon& daemon,
                                  const std::shared_ptr<grpc::Channel>& channel) {
  if (!Eventually([&] { return daemon.Log().find("listening on") != std::string::npos; },
                  kServerUp)) {
    return std::nullopt;
  }
  std::optional<Health> health;
  Eventually(
      [&] {
        health = Check(channel, "").health;
        return health.has_value();
      },
      kServerUp);
  return health;
}

class HealthTest : public ::testing::Test {
 protected:
  Daemon& Start(const std::string& extra_yaml) {
    daemon_ = std::make_unique<Daemon>(
        dir_.path(), Daemon::Options{.id = "hall", .extra_yaml = extra_yaml});
    daemon_->Start();
    return *daemon_;
  }
  void TearDown() override {
    if (HasFailure() && daemon_) std::cerr << daemon_->Log();
  }

  TempDir dir_{"domian-health-test"};
  std::unique_ptr<Daemon> daemon_;
};

// This node's row for `service` in `domianctl services`, if any.
std::optional<nlohmann::json> ServiceRow(const Daemon& daemon, const std::string& service) {
  const std::optional<nlohmann::json> rows = Ctl(daemon.address(), "services");
  if (!rows) return std::nullopt;
  for (const nlohmann::json& row : *rows) {
    if (row.value("name", "") == service && row.value("node", "") == daemon.id()) return row;
  }
  return std::nullopt;
}

TEST_F(HealthTest, NotServingUntilPlacementSettledAndStartedItsServicesThenServing) {
  const std::filesystem::path plugins = dir_.path() / "plugins";
  MakePluginFolder(plugins, DOMIAN_TEST_PLUGIN_DIR, {"tally"});
  const auto spawned = std::chrono::steady_clock::now();
  Daemon& daemon = Start("plugins:\n  dirs: [" + plugins.string() + "]\nplacement:\n  settle: " +
                         std::to_string(kLongSettle.count()) +
                         "s\nservices:\n  tally: {run: prefer}\n");
  const auto control = ControlChannel(daemon);

  ASSERT_EQ(FirstHealth(daemon, control), Health::kNotServing)
      << "the server answered SERVING before placement settled";
  EXPECT_EQ(Check(control, kDomainService).health, Health::kNotServing);
  EXPECT_EQ(Check(control, "no.such.Service").call.error_code(), grpc::StatusCode::NOT_FOUND);
  // Over mutual TLS too, for an operator as for a node of the cluster.
  EXPECT_EQ(Check(TlsChannel(daemon, "tester", "operator"), "").health, Health::kNotServing);

  // A watcher is told of the change: NOT_SERVING now, SERVING once ready.
  Watch watch(control, "");
  ASSERT_EQ(watch.Next(), Health::kNotServing);
  ASSERT_EQ(watch.Next(), Health::kServing);
  const auto serving = std::chrono::steady_clock::now();
  EXPECT_GE(serving - spawned, kLongSettle) << "SERVING before the settle period was over";
  // Ready means placed: the singleton this node prefers was started
  // before SERVING was said (it may still be starting).
  const std::optional<nlohmann::json> tally = ServiceRow(daemon, "tally");
  ASSERT_TRUE(tally.has_value()) << "SERVING, but tally was not started here";
  EXPECT_TRUE((*tally)["state"] == "running" || (*tally)["state"] == "starting") << *tally;

  EXPECT_EQ(Check(control, "").health, Health::kServing);
  EXPECT_EQ(Check(control, kDomainService).health, Health::kServing);
  EXPECT_EQ(Check(TlsChannel(daemon, "tester", "operator"), kDomainService).health,
            Health::kServing);
  EXPECT_EQ(Check(TlsChannel(daemon, "kitchen", "node"), "").health, Health::kServing);
}

TEST_F(HealthTest, AWatcherHearsNotServingAsSoonAsTheNodeBeginsToStop) {
  Daemon& daemon = Start("placement:\n  settle: 0s\n");
  const auto control = ControlChannel(daemon);
  ASSERT_TRUE(FirstHealth(daemon, control).has_value());
  Watch watch(control, kDomainService);
  std::optional<Health> health = watch.Next();
  if (health == Health::kNotServing) health = watch.Next();
  ASSERT_EQ(health, Health::kServing);

  daemon.Signal(SIGTERM);
  EXPECT_EQ(watch.Next(), Health::kNotServing)
      << "the stream ended without NOT_SERVING: watchers were not told to drain";
  EXPECT_EQ(daemon.WaitExit(kExit), 0);
}

TEST_F(HealthTest, ReflectionListsTheServicesAndDescribesTheDomainService) {
  Daemon& daemon = Start("placement:\n  settle: 0s\n");
  const auto control = ControlChannel(daemon);
  ASSERT_TRUE(FirstHealth(daemon, control).has_value());

  const std::set<std::string> services = ListServices(control);
  EXPECT_TRUE(services.contains(kDomainService));
  EXPECT_TRUE(services.contains("grpc.health.v1.Health"));
  EXPECT_TRUE(services.contains("grpc.reflection.v1alpha.ServerReflection"));
  // The same over mutual TLS, for a holder of the cluster's certificates.
  EXPECT_EQ(ListServices(TlsChannel(daemon, "tester", "operator")), services);

  // What grpcurl `describe` needs: the file defining the service, with
  // its methods, and the files it imports.
  const std::vector<google::protobuf::FileDescriptorProto> files =
      FilesFor(control, kDomainService);
  ASSERT_FALSE(files.empty());
  std::set<std::string> methods;
  for (const auto& file : files) {
    for (const auto& service : file.service()) {
      if (file.package() + "." + service.name() != kDomainService) continue;
      for (const auto& method : service.method()) methods.insert(method.name());
    }
  }
  EXPECT_TRUE(methods.contains("ShareIdentityList"));
  EXPECT_TRUE(methods.contains("Invoke"));
  EXPECT_TRUE(methods.contains("HandOver"));
}

}  // namespace
}  // namespace domian::testing
