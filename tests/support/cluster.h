// Test and benchmark support: real domiand processes on 127.0.0.1 (or in
// network namespaces of their own, see net_lab.h), driven through signals
// and observed through domianctl --json, exactly as a person or a script
// would.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "core/cli/control_client.h"

namespace domian::testing {

using namespace std::chrono_literals;

// Paths to the binaries under test (set by CMake; $DOMIAN_TEST_DOMIAND
// runs the tests against another build's domiand).
std::string DomiandPath();
std::string DomianctlPath();

// A port on 127.0.0.1 that was free for TCP and UDP a moment ago, outside
// the range outgoing connections take their source ports from, not
// handed out before by this process, and reserved against other test
// processes for as long as this one lives.
uint16_t FreeLoopbackPort();

// A folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Result of running a short command to completion.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `program args...` with a deadline; the process is killed if it
// overruns (exit_code -1 then).
CommandResult RunCommand(const std::string& program, const std::vector<std::string>& args,
                         std::chrono::milliseconds deadline = 10s);
// The same, with `input` on the command's stdin (else /dev/null).
CommandResult RunCommandWithInput(const std::string& program, const std::vector<std::string>& args,
                                  const std::optional<std::string>& input,
                                  std::chrono::milliseconds deadline = 10s);

// Every daemon of this process is enrolled (unless it asks not to be) in
// its cluster with a certificate of one test CA, made once per process;
// domianctl reaches it with an operator certificate of that cluster.
//
// The arguments domianctl needs to reach the daemon at `address`, --node
// included: --credentials FOLDER (an operator's of its cluster),
// --plaintext for a plaintext daemon, its control socket for one enrolled
// with domianctl (a CA of its own), only --node for an address no daemon
// of this process has.
std::vector<std::string> CtlAccess(const std::string& address);
// A folder with an operator's credentials ("tester") for `cluster`.
std::filesystem::path OperatorCredentials(const std::string& cluster);
// The PEM of the test CA's certificate and key.
const std::string& TestCaCert();
// A node's (`id`) credentials of `cluster` from the test CA, written as
// a folder `dir` (as domianctl cluster init or join would).
void WriteNodeCredentials(const std::filesystem::path& dir, const std::string& cluster,
                          const std::string& id);
// gRPC client credentials of the test CA for a raw stub: a node's (`id`)
// or an operator's (role "operator", id its name) of `cluster`; a stub
// made with them reaches a daemon of that cluster as a member would.
std::shared_ptr<grpc::ChannelCredentials> TestCredentials(const std::string& cluster,
                                                          const std::string& id,
                                                          const std::string& role = "node");
// Server credentials of the test CA for a member written in a test: a
// node `id` of `cluster`.
std::shared_ptr<grpc::ServerCredentials> TestServerCredentials(const std::string& cluster,
                                                               const std::string& id);
// A ControlClient (what domianctl uses) for the daemon at `address`, with
// the access CtlAccess gives.
std::unique_ptr<cli::ControlClient> ControlClientFor(
    const std::string& address, std::chrono::milliseconds timeout = cli::kDefaultControlTimeout);

// `domianctl --node ADDRESS COMMAND --json`, parsed; nullopt on failure.
std::optional<nlohmann::json> Ctl(const std::string& address, const std::string& command);

// Benchmarks compare mutual TLS with plaintext in one run: from this call
// on, every Daemon made in this process is plaintext (security.plaintext).
void UsePlaintextDaemons(bool plaintext);
// "plaintext" or "mtls": what daemons made now use.
std::string DaemonTransport();

// One domiand process with its own config, state folder and log file.
class Daemon {
 public:
  struct Options {
    std::string id;
    std::string cluster = "test";
    std::vector<std::string> seeds;
    std::string log_level = "debug";
    std::string extra_yaml;  // appended as-is (e.g. a membership: section)
    // Off unless a test asks: a daemon must never reach a real
    // avahi-daemon (see private_mdns.h for the private one).
    bool mdns = false;
    std::string advertise;  // discovery.advertise when set
    std::string host = "127.0.0.1";  // listen host; the port is picked free
    std::vector<std::string> traits;  // node.traits
    // A command prefix domiand is exec'd through, e.g. NetLab::Wrapper()'s
    // `ip netns exec NAME`. It must exec (not fork) the daemon, so that
    // Pid() and Signal() still address domiand itself.
    std::vector<std::string> wrapper;
    // Extra environment variables for the daemon, on top of the test's own.
    std::map<std::string, std::string> env;
    // security.plaintext: no TLS (development mode).
    bool plaintext = false;
    // Given credentials of the test CA before its first start; false: a
    // node to enrol with domianctl cluster init or join (it waits for
    // them).
    bool enrolled = true;
    // The http: section's keys, each line indented by two spaces (e.g.
    // "  listen: 127.0.0.1:0\n"); empty: no HTTP server, so that daemons
    // of a test do not compete for the default port.
    std::string http;
  };

  Daemon(const std::filesystem::path& root, Options options);
  ~Daemon();  // SIGKILLs the process if still running
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  void Start();
  void Signal(int signal_number);
  bool Running();
  // Waits for the process to exit; its exit code (128+signal if killed),
  // or nullopt on timeout.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  // The process id while running, else -1.
  int Pid();

  const std::string& id() const { return options_.id; }
  const std::string& address() const { return address_; }
  const std::filesystem::path& config_path() const { return config_; }
  // Its state folder, and its control socket (local operators' access).
  std::filesystem::path state_dir() const { return dir_ / "state"; }
  std::filesystem::path control_socket() const { return dir_ / "ctl.sock"; }
  // Everything every life of this daemon logged.
  std::string Log() const;

 private:
  Options options_;
  std::filesystem::path dir_;
  std::filesystem::path config_;
  std::filesystem::path log_;
  std::string address_;
  int starts_ = 0;
  struct Process;
  std::unique_ptr<Process> process_;
};

// In the sanitizer build ASan would catch a plugin's SIGSEGV and exit with
// a report; a crashing plugin host must die of the signal, as it does in
// production. Makes processes started from now on leave SEGV to the kernel.
void LeaveSegvToTheKernel();

// A plugin folder `dir` as packages make one (0755), holding copies of the
// test plugins `names` (each <name>.so, 0644) from `from`.
void MakePluginFolder(const std::filesystem::path& dir, const std::filesystem::path& from,
                      const std::vector<std::string>& names);

// The pid of the plugin host the daemon logged starting for `service`
// (the latest one), or -1.
int PluginHostPid(const Daemon& daemon, const std::string& service);

// `domianctl --node ADDRESS call SERVICE COMMAND ARGS --json` (a service's
// command, wherever it runs), with a deadline longer than any call's.
CommandResult CallService(const Daemon& asked, const std::string& service,
                          const std::string& command, const std::string& args = "{}",
                          std::chrono::milliseconds deadline = 60s);

// Daemons named `ids`, not yet started; the first is the seed every other
// one is configured with (the seed itself knows nobody).
std::vector<std::unique_ptr<Daemon>> SeededDaemons(const std::filesystem::path& root,
                                                   const std::vector<std::string>& ids,
                                                   const std::string& log_level = "debug",
                                                   const std::string& extra_yaml = "");

// How many times `needle` occurs in `text` (a log, say), overlaps included.
size_t Occurrences(const std::string& text, const std::string& needle);

// Polls `condition` every 100 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// Every daemon lists every other one as alive, and nobody else, within
// `timeout`. One `domianctl peers` per daemon per poll.
bool AllSeeEachOtherAlive(const std::vector<Daemon*>& daemons, std::chrono::milliseconds timeout);

// The state `observer` reports for peer `id` ("alive", "suspect", "dead"),
// or "" when it does not know the peer or cannot be asked.
std::string PeerState(const Daemon& observer, const std::string& id);
// Where `observer` sees `service` running: node id -> epoch. One entry
// kUnreachable when it cannot be asked.
inline constexpr char kUnreachable[] = "(unreachable)";
std::map<std::string, uint64_t> ServiceOwners(const Daemon& observer, const std::string& service);

// The peer object `observer` reports for `id`, if any.
std::optional<nlohmann::json> PeerEntry(const Daemon& observer, const std::string& id);

}  // namespace domian::testing
