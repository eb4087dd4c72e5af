// Process handling with Boost.Process; every child is tied to the test
// process (PR_SET_PDEATHSIG) so none outlives a crashed test.
#include "tests/support/cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/process.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/rpc/transport_security.h"
#include "core/trust/credentials.h"
#include "core/trust/pki.h"
#include "tests/support/die_with_parent.h"

namespace bp = boost::process;

namespace domian::testing {
namespace {

std::string ReadFile(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int ExitCodeOf(const bp::child& child) {
  const int status = child.native_exit_code();
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::string JoinHost(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

std::string DomiandPath() {
  // Another build's daemon, to show what a test finds there (a fix's
  // "before"): DOMIAN_TEST_DOMIAND=/path/to/domiand.
  const char* other = std::getenv("DOMIAN_TEST_DOMIAND");
  return other != nullptr && *other != '\0' ? other : DOMIAN_DOMIAND_PATH;
}
std::string DomianctlPath() { return DOMIAN_DOMIANCTL_PATH; }

namespace {

// bind(0) hands out ports from the ephemeral range, the range every
// outgoing connection takes its source port from too. With a hundred
// daemons connecting to each other, a port picked for a daemon not yet
// started soon becomes some connection's source port, and that daemon
// cannot listen. Listening ports are therefore picked below the range:
// at random, so test processes running side by side rarely meet; checked
// free for TCP and UDP (Serf listens on both); never handed out twice by
// one process; and reserved against other test processes (ReservePort).
constexpr uint16_t kListenPortFloor = 10000;
constexpr uint16_t kMinListenPorts = 1000;  // fewer below the range: use bind(0)
constexpr int kListenPortAttempts = 2000;

// The first port of the ephemeral range (Linux's default when unreadable).
uint16_t EphemeralLow() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 32768;
  range >> low;
  return static_cast<uint16_t>(std::clamp(low, 1u, 65535u));
}

// Binds `port` (0: any) on 127.0.0.1; the port bound, or 0 when taken.
uint16_t BindLoopback(int type, uint16_t port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  return bound ? ntohs(address.sin_port) : 0;
}

// A port is picked long before its process binds it (a cluster picks all
// its ports, then starts its members one by one), so a check that it is
// free does not keep another test process from picking it meanwhile: the
// benchmark runs Serf's three detect clusters and domian's side by side,
// and one agent of 50 now and then found its port taken. Each port handed
// out is therefore locked (flock) for the life of this process, in a
// directory every test process shares; the kernel drops the locks when the
// process ends, however it ends. Where the directory cannot be written
// (another user's), ports go unreserved, as before.
bool ReservePort(uint16_t port) {
  // Made once per process, open to every user like /tmp itself.
  static const std::filesystem::path dir = [] {
    const auto path = std::filesystem::temp_directory_path() / "domian-test-ports";
    std::error_code ignored;
    if (std::filesystem::create_directories(path, ignored)) {
      std::filesystem::permissions(
          path, std::filesystem::perms::all | std::filesystem::perms::sticky_bit, ignored);
    }
    return path;
  }();
  const std::string path = (dir / std::to_string(port)).string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return true;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;  // another test process holds it
  }
  return true;  // fd stays open: the lock lasts as long as this process
}

}  // namespace

uint16_t FreeLoopbackPort() {
  static std::mutex mu;
  static std::set<uint16_t> handed_out;
  static std::mt19937 random{std::random_device{}()};
  std::lock_guard lock(mu);
  const uint16_t low = EphemeralLow();
  if (low >= kListenPortFloor + kMinListenPorts) {
    std::uniform_int_distribution<int> pick(kListenPortFloor, low - 1);
    for (int attempt = 0; attempt < kListenPortAttempts; ++attempt) {
      const auto port = static_cast<uint16_t>(pick(random));
      if (handed_out.contains(port) || BindLoopback(SOCK_STREAM, port) == 0 ||
          BindLoopback(SOCK_DGRAM, port) == 0 || !ReservePort(port)) {
        continue;
      }
      handed_out.insert(port);
      return port;
    }
  }
  for (int attempt = 0; attempt < kListenPortAttempts; ++attempt) {
    const uint16_t port = BindLoopback(SOCK_STREAM, 0);
    if (port == 0) break;
    if (handed_out.insert(port).second) return port;
  }
  throw std::runtime_error("cannot find a free port on 127.0.0.1");
}

TempDir::TempDir(const std::string& prefix) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

CommandResult RunCommand(const std::string& program, const std::vector<std::string>& args,
                         std::chrono::milliseconds deadline) {
  return RunCommandWithInput(program, args, std::nullopt, deadline);
}

CommandResult RunCommandWithInput(const std::string& program, const std::vector<std::string>& args,
                                  const std::optional<std::string>& input,
                                  std::chrono::milliseconds deadline) {
  CommandResult result;
  bp::ipstream out, err;
  std::string out_text, err_text;
  // The input from a file of its own: a child that reads only part of it
  // never blocks the test on a full pipe.
  std::optional<TempDir> input_dir;
  std::filesystem::path input_file = "/dev/null";
  if (input) {
    input_dir.emplace("domian-input");
    input_file = input_dir->path() / "stdin";
    std::ofstream(input_file) << *input;
  }
  bp::child child(program, bp::args(args), bp::std_out > out, bp::std_err > err,
                  bp::std_in < input_file.string(), DieWithParent{});
  // Readers drain both pipes so a chatty child never blocks on a full one.
  std::thread out_reader([&] {
    std::stringstream s;
    s << out.rdbuf();
    out_text = s.str();
  });
  std::thread err_reader([&] {
    std::stringstream s;
    s << err.rdbuf();
    err_text = s.str();
  });
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (child.running() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  if (child.running()) {
    child.terminate();
    child.wait();
    out_reader.join();
    err_reader.join();
    result.out = out_text;
    result.err = err_text;
    return result;
  }
  child.wait();
  out_reader.join();
  err_reader.join();
  result.exit_code = ExitCodeOf(child);
  result.out = out_text;
  result.err = err_text;
  return result;
}

namespace {

struct Access {
  std::string cluster;
  bool plaintext = false;
  // Enrolled by domianctl (its own CA): reached over its control socket.
  std::string socket;
};

// What this process's daemons are, by address; and its credentials.
struct TestTrust {
  std::mutex mu;
  std::map<std::string, Access> daemons;
  std::map<std::string, std::filesystem::path> operators;  // by cluster
  std::unique_ptr<TempDir> dir;
  trust::Authority authority;

  static TestTrust& Get() {
    static TestTrust* trust = [] {
      auto* made = new TestTrust;
      absl::StatusOr<trust::Authority> authority = trust::NewAuthority("test");
      if (!authority.ok()) throw std::runtime_error("cannot make the test CA");
      made->authority = *std::move(authority);
      return made;
    }();
    return *trust;
  }

  trust::Credentials Issue(const trust::Subject& subject, bool with_authority) {
    absl::StatusOr<std::string> key = trust::NewPrivateKey();
    absl::StatusOr<std::string> csr = key.ok() ? trust::NewCsr(*key, subject) : key;
    absl::StatusOr<std::string> cert = csr.ok() ? trust::Issue(authority, *csr, subject) : csr;
    if (!cert.ok()) throw std::runtime_error("cannot issue a test certificate");
    trust::Credentials credentials{.self = subject,
                                   .roots_pem = authority.cert_pem,
                                   .cert_pem = *cert,
                                   .key_pem = *key};
    if (with_authority) credentials.authority = authority;
    return credentials;
  }
};

}  // namespace

namespace {
std::atomic<bool> plaintext_daemons{false};
}  // namespace

void UsePlaintextDaemons(bool plaintext) { plaintext_daemons = plaintext; }
std::string DaemonTransport() { return plaintext_daemons ? "plaintext" : "mtls"; }

const std::string& TestCaCert() { return TestTrust::Get().authority.cert_pem; }

void WriteNodeCredentials(const std::filesystem::path& dir, const std::string& cluster,
                          const std::string& id) {
  TestTrust& trust = TestTrust::Get();
  const absl::Status saved = trust::SaveCredentials(
      dir, trust.Issue({cluster, trust::Role::kNode, id}, /*with_authority=*/true));
  if (!saved.ok()) throw std::runtime_error(std::string(saved.message()));
}

std::filesystem::path OperatorCredentials(const std::string& cluster) {
  TestTrust& trust = TestTrust::Get();
  std::lock_guard lock(trust.mu);
  if (auto it = trust.operators.find(cluster); it != trust.operators.end()) return it->second;
  if (!trust.dir) trust.dir = std::make_unique<TempDir>("domian-operators");
  const std::filesystem::path folder = trust.dir->path() / cluster;
  const absl::Status saved = trust::SaveCredentials(
      folder, trust.Issue({cluster, trust::Role::kOperator, "tester"}, /*with_authority=*/false));
  if (!saved.ok()) throw std::runtime_error(std::string(saved.message()));
  trust.operators[cluster] = folder;
  return folder;
}

std::vector<std::string> CtlAccess(const std::string& address) {
  TestTrust& trust = TestTrust::Get();
  Access access;
  {
    std::lock_guard lock(trust.mu);
    auto it = trust.daemons.find(address);
    if (it == trust.daemons.end()) return {"--node", address};
    access = it->second;
  }
  if (!access.socket.empty()) return {"--node", "unix:" + access.socket};
  if (access.plaintext) return {"--plaintext", "--node", address};
  return {"--credentials", OperatorCredentials(access.cluster).string(), "--node", address};
}

std::shared_ptr<grpc::ChannelCredentials> TestCredentials(const std::string& cluster,
                                                          const std::string& id,
                                                          const std::string& role) {
  const trust::Role parsed = role == "operator" ? trust::Role::kOperator : trust::Role::kNode;
  const trust::Credentials credentials =
      TestTrust::Get().Issue({cluster, parsed, id}, /*with_authority=*/false);
  // Any node of the cluster is the server it means to reach.
  return rpc::ClientCredentials(credentials, [cluster](const trust::Subject& server) {
    return server.cluster == cluster && server.role == trust::Role::kNode
               ? absl::OkStatus()
               : absl::UnauthenticatedError("not a node of cluster " + cluster);
  });
}

std::shared_ptr<grpc::ServerCredentials> TestServerCredentials(const std::string& cluster,
                                                               const std::string& id) {
  return rpc::ServerCredentials(
      TestTrust::Get().Issue({cluster, trust::Role::kNode, id}, /*with_authority=*/false));
}

std::unique_ptr<cli::ControlClient> ControlClientFor(const std::string& address,
                                                     std::chrono::milliseconds timeout) {
  TestTrust& trust = TestTrust::Get();
  Access access;
  bool known = false;
  {
    std::lock_guard lock(trust.mu);
    if (auto it = trust.daemons.find(address); it != trust.daemons.end()) {
      access = it->second;
      known = true;
    }
  }
  if (known && !access.socket.empty()) {
    return std::make_unique<cli::ControlClient>("unix:" + access.socket, timeout,
                                                grpc::InsecureChannelCredentials());
  }
  if (!known || access.plaintext) {
    return std::make_unique<cli::ControlClient>(address, timeout,
                                                grpc::InsecureChannelCredentials());
  }
  return std::make_unique<cli::ControlClient>(address, timeout,
                                              TestCredentials(access.cluster, "tester", "operator"));
}

std::optional<nlohmann::json> Ctl(const std::string& address, const std::string& command) {
  std::vector<std::string> args = CtlAccess(address);
  args.insert(args.end(), {command, "--json", "--timeout", "2000"});
  CommandResult result = RunCommand(DomianctlPath(), args);
  // A failed query reads as "no such peer" to most callers; the reason
  // goes to the test's output so a failure says which it was. One that
  // reached the daemon and failed anyway (seen once in 848 tests on a
  // loaded machine, cause unknown) is asked once more: the callers test
  // what the daemon knows, not one process's luck.
  if (result.exit_code != 0) {
    std::cerr << "domianctl " << command << " at " << address << " failed (exit "
              << result.exit_code << "): " << result.err << std::endl;
    // Nobody listening, or nobody answering in time (a stopped daemon),
    // is the answer.
    if (result.exit_code < 0 || result.err.find("Connection refused") != std::string::npos ||
        result.err.find("Deadline Exceeded") != std::string::npos) {
      return std::nullopt;
    }
    result = RunCommand(DomianctlPath(), args);
    if (result.exit_code != 0) return std::nullopt;
  }
  try {
    return nlohmann::json::parse(result.out);
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "domianctl " << command << " at " << address << " printed no JSON: " << e.what()
              << std::endl;
    return std::nullopt;
  }
}

int PluginHostPid(const Daemon& daemon, const std::string& service) {
  const std::string log = daemon.Log();
  const std::string needle = "service " + service + " running (plugin host pid ";
  const size_t at = log.rfind(needle);
  if (at == std::string::npos) return -1;
  return std::stoi(log.substr(at + needle.size()));
}

CommandResult CallService(const Daemon& asked, const std::string& service,
                          const std::string& command, const std::string& args,
                          std::chrono::milliseconds deadline) {
  std::vector<std::string> arguments = CtlAccess(asked.address());
  arguments.insert(arguments.end(), {"call", service, command, args, "--json"});
  return RunCommand(DomianctlPath(), arguments, deadline);
}

struct Daemon::Process {
  bp::child child;
};

Daemon::Daemon(const std::filesystem::path& root, Options options)
    : options_([&options] {
        if (plaintext_daemons) options.plaintext = true;
        return std::move(options);
      }()),
      dir_(root / options_.id),
      config_(dir_ / "node.yaml"),
      log_(dir_ / "domiand.log"),
      address_(JoinHost(options_.host, FreeLoopbackPort())) {
  std::filesystem::create_directories(dir_);
  std::ofstream yaml(config_);
  yaml << "node:\n"
       << "  id: " << options_.id << "\n"
       << "  cluster: " << options_.cluster << "\n"
       << "  listen: \"" << address_ << "\"\n"
       << "  state_dir: " << (dir_ / "state").string() << "\n"
       << "  traits: [";
  for (size_t i = 0; i < options_.traits.size(); ++i) {
    yaml << (i ? ", " : "") << options_.traits[i];
  }
  yaml << "]\n"
       << "discovery:\n"
       << "  seeds: [";
  for (size_t i = 0; i < options_.seeds.size(); ++i) {
    yaml << (i ? ", " : "") << '"' << options_.seeds[i] << '"';
  }
  yaml << "]\n"
       << "  mdns: " << (options_.mdns ? "true" : "false") << "\n";
  if (!options_.advertise.empty()) yaml << "  advertise: " << options_.advertise << "\n";
  yaml << "security:\n"
       << "  control_socket: " << control_socket().string() << "\n";
  if (options_.plaintext) yaml << "  plaintext: true\n";
  yaml << "http:\n" << (options_.http.empty() ? std::string("  enabled: false\n") : options_.http);
  yaml << "log:\n"
       << "  level: " << options_.log_level << "\n"
       << options_.extra_yaml;
  yaml.close();
  if (options_.enrolled && !options_.plaintext) {
    WriteNodeCredentials(state_dir() / "tls", options_.cluster, options_.id);
  }
  TestTrust& trust = TestTrust::Get();
  std::lock_guard lock(trust.mu);
  trust.daemons[address_] = {options_.cluster, options_.plaintext,
                             options_.enrolled ? std::string() : control_socket().string()};
}

Daemon::~Daemon() {
  if (process_ && process_->child.running()) {
    ::kill(process_->child.id(), SIGCONT);  // a stopped process cannot die
    ::kill(process_->child.id(), SIGKILL);
    process_->child.wait();
  }
}

void Daemon::Start() {
  if (process_ && process_->child.running()) throw std::logic_error(id() + " already running");
  // One log file per life, so earlier lives stay readable.
  const std::string log = log_.string() + "." + std::to_string(++starts_);
  std::vector<std::string> command = options_.wrapper;
  // Extra variables through env(1), which execs the daemon like the
  // wrapper does: Boost.Process 1.74's environment lookup reads past the
  // end of shorter names (boostorg/process#246).
  if (!options_.env.empty()) {
    command.push_back("/usr/bin/env");
    for (const auto& [name, value] : options_.env) command.push_back(name + "=" + value);
  }
  command.insert(command.end(), {DomiandPath(), "--config", config_.string()});
  const std::string program = command.front();
  command.erase(command.begin());
  // PR_SET_PDEATHSIG survives the wrappers' exec, so the daemon still dies
  // with the test.
  process_ = std::make_unique<Process>(
      Process{bp::child(bp::exe(program), bp::args(command), bp::std_out > bp::null,
                        bp::std_err > log, bp::std_in < bp::null, DieWithParent{})});
}

void Daemon::Signal(int signal_number) {
  if (process_) ::kill(process_->child.id(), signal_number);
}

int Daemon::Pid() { return Running() ? process_->child.id() : -1; }

bool Daemon::Running() { return process_ && process_->child.running(); }

std::optional<int> Daemon::WaitExit(std::chrono::milliseconds timeout) {
  if (!process_) return std::nullopt;
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (process_->child.running()) {
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
  return ExitCodeOf(process_->child);
}

std::string Daemon::Log() const {
  std::string all;
  for (int life = 1; life <= starts_; ++life) all += ReadFile(log_.string() + "." + std::to_string(life));
  return all;
}

std::vector<std::unique_ptr<Daemon>> SeededDaemons(const std::filesystem::path& root,
                                                   const std::vector<std::string>& ids,
                                                   const std::string& log_level,
                                                   const std::string& extra_yaml) {
  std::vector<std::unique_ptr<Daemon>> daemons;
  for (const std::string& id : ids) {
    Daemon::Options options{.id = id, .log_level = log_level, .extra_yaml = extra_yaml};
    if (!daemons.empty()) options.seeds = {daemons.front()->address()};
    daemons.push_back(std::make_unique<Daemon>(root, options));
  }
  return daemons;
}

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(100ms);
  }
}

bool AllSeeEachOtherAlive(const std::vector<Daemon*>& daemons, std::chrono::milliseconds timeout) {
  return Eventually(
      [&] {
        for (const Daemon* observer : daemons) {
          const auto peers = Ctl(observer->address(), "peers");
          if (!peers || peers->size() != daemons.size() - 1) return false;
          for (const auto& peer : *peers) {
            if (peer.value("state", "") != "alive") return false;
          }
        }
        return true;
      },
      timeout);
}

std::optional<nlohmann::json> PeerEntry(const Daemon& observer, const std::string& id) {
  const auto peers = Ctl(observer.address(), "peers");
  if (!peers) return std::nullopt;
  for (const auto& peer : *peers) {
    if (peer.value("id", "") == id) return peer;
  }
  return std::nullopt;
}

std::string PeerState(const Daemon& observer, const std::string& id) {
  const auto peer = PeerEntry(observer, id);
  return peer ? peer->value("state", "") : "";
}

std::map<std::string, uint64_t> ServiceOwners(const Daemon& observer,
                                              const std::string& service) {
  std::map<std::string, uint64_t> owners;
  const auto services = Ctl(observer.address(), "services");
  if (!services) return {{kUnreachable, 0}};
  for (const auto& entry : *services) {
    if (entry["name"] == service && entry["state"] == "running") {
      owners[entry["node"].get<std::string>()] = entry["epoch"].get<uint64_t>();
    }
  }
  return owners;
}

void LeaveSegvToTheKernel() {
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string options =
      std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "handle_segv=0";
  ::setenv("ASAN_OPTIONS", options.c_str(), 1);
}

void MakePluginFolder(const std::filesystem::path& dir, const std::filesystem::path& from,
                      const std::vector<std::string>& names) {
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms(0755));
  for (const std::string& name : names) {
    const auto target = dir / (name + ".so");
    std::filesystem::copy_file(from / (name + ".so"), target,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(target, std::filesystem::perms(0644));
  }
}

}  // namespace domian::testing
