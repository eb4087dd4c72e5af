#include "tests/support/mosquitto_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/process.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/die_with_parent.h"

namespace bp = boost::process;

namespace domian::testing {
namespace {

// A loaded two-core machine can take a while to start a process.
constexpr auto kStartDeadline = std::chrono::seconds(30);
constexpr auto kStopDeadline = std::chrono::seconds(10);
constexpr auto kToolDeadline = std::chrono::seconds(30);

bool Accepts(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

void MustRun(const std::string& program, const std::vector<std::string>& args) {
  const CommandResult result = RunCommand(program, args, kToolDeadline);
  if (result.exit_code != 0) {
    throw std::runtime_error(program + " failed (" + std::to_string(result.exit_code) +
                             "): " + result.err);
  }
}

// Client ids must differ between concurrent clients of one broker.
std::string NextClientId(const char* what) {
  static std::atomic<int> next{0};
  return std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
}

}  // namespace

struct MosquittoBroker::Process {
  bp::child child;
};

std::filesystem::path MosquittoBroker::MakeCa(const std::filesystem::path& dir,
                                              const std::string& name) {
  std::filesystem::create_directories(dir);
  const std::filesystem::path cert = dir / (name + ".pem");
  MustRun("/usr/bin/openssl",
          {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", (dir / (name + ".key")).string(), "-out", cert.string(), "-days", "3650",
           "-subj", "/CN=" + name});
  return cert;
}

MosquittoBroker::MosquittoBroker(const std::filesystem::path& dir, bool with_tls)
    : dir_(dir),
      config_(dir / "mosquitto.conf"),
      log_(dir / "mosquitto.log"),
      bridge_password_file_(dir / "bridge-password"),
      port_(FreeLoopbackPort()) {
  std::filesystem::create_directories(dir_);
  const std::filesystem::path passwords = dir_ / "passwd";
  MustRun("/usr/bin/mosquitto_passwd", {"-c", "-b", passwords.string(), kBridgeUser,
                                        kBridgePassword});
  MustRun("/usr/bin/mosquitto_passwd", {"-b", passwords.string(), kObserverUser,
                                        kObserverPassword});
  ::chmod(passwords.c_str(), 0600);
  {
    std::ofstream file(bridge_password_file_);
    file << kBridgePassword << "\n";
  }
  ::chmod(bridge_password_file_.c_str(), 0600);
  std::ofstream config(config_);
  // persistence false: a restarted broker has forgotten every retained
  // message, so what is there afterwards was published again.
  config << "listener " << port_ << " 127.0.0.1\n"
         << "allow_anonymous false\n"
         << "password_file " << passwords.string() << "\n"
         << "persistence false\n"
         // As README advises for Home Assistant: without it a small
         // message to a subscriber waits for its delayed ACK (40 ms).
         << "set_tcp_nodelay true\n"
         << "log_dest file " << log_.string() << "\n"
         << "log_type all\n"
         << "connection_messages true\n";
  // Run as root, mosquitto would switch to user mosquitto, who cannot
  // read the test's files.
  if (::geteuid() == 0) config << "user root\n";
  if (with_tls) {
    tls_port_ = FreeLoopbackPort();
    ca_file_ = MakeCa(dir_, "broker-ca");
    const std::filesystem::path key = dir_ / "server.key";
    const std::filesystem::path cert = dir_ / "server.pem";
    MustRun("/usr/bin/openssl",
            {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key.string(), "-out", cert.string(), "-days", "3650", "-subj",
             "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-CA",
             ca_file_.string(), "-CAkey", (dir_ / "broker-ca.key").string()});
    config << "listener " << tls_port_ << " 127.0.0.1\n"
           << "cafile " << ca_file_.string() << "\n"
           << "certfile " << cert.string() << "\n"
           << "keyfile " << key.string() << "\n";
  }
}

MosquittoBroker::~MosquittoBroker() {
  if (process_ && process_->child.running()) {
    ::kill(process_->child.id(), SIGKILL);
    process_->child.wait();
  }
}

void MosquittoBroker::Start() {
  if (Running()) throw std::logic_error("mosquitto already running");
  process_ = std::make_unique<Process>(
      Process{bp::child(bp::exe("/usr/sbin/mosquitto"), bp::args({"-c", config_.string()}),
                        bp::std_out > bp::null, bp::std_err > (dir_ / "stderr").string(),
                        bp::std_in < bp::null, DieWithParent{})});
  const bool up = Eventually([&] { return !Running() || Accepts(port_); }, kStartDeadline);
  if (!up || !Running()) {
    throw std::runtime_error("mosquitto did not start on 127.0.0.1:" + std::to_string(port_) +
                             ":\n" + Log());
  }
}

void MosquittoBroker::Stop() {
  if (!Running()) return;
  ::kill(process_->child.id(), SIGTERM);
  if (!Eventually([&] { return !process_->child.running(); }, kStopDeadline)) {
    ::kill(process_->child.id(), SIGKILL);
  }
  process_->child.wait();
}

bool MosquittoBroker::Running() { return process_ && process_->child.running(); }

std::string MosquittoBroker::address() const { return "127.0.0.1:" + std::to_string(port_); }

std::optional<std::string> MosquittoBroker::Receive(const std::string& topic,
                                                    std::chrono::seconds wait) const {
  const CommandResult result = RunCommand(
      "/usr/bin/mosquitto_sub",
      {"-h", "127.0.0.1", "-p", std::to_string(port_), "-u", kObserverUser, "-P",
       kObserverPassword, "-i", NextClientId("sub"), "-t", topic, "-C", "1", "-W",
       std::to_string(wait.count())},
      wait + kToolDeadline);
  if (result.exit_code != 0) return std::nullopt;
  std::string payload = result.out;
  if (!payload.empty() && payload.back() == '\n') payload.pop_back();
  return payload;
}

bool MosquittoBroker::Publish(const std::string& topic, const std::string& payload,
                              bool retain) const {
  static std::atomic<int> next{0};
  const std::filesystem::path file = dir_ / ("payload-" + std::to_string(next++));
  {
    std::ofstream out(file, std::ios::binary);
    out << payload;
  }
  std::vector<std::string> args = {"-h", "127.0.0.1", "-p", std::to_string(port_),
                                   "-u", kObserverUser, "-P", kObserverPassword,
                                   "-i", NextClientId("pub"), "-q", "1",
                                   "-t", topic, "-f", file.string()};
  if (retain) args.push_back("-r");
  const CommandResult result = RunCommand("/usr/bin/mosquitto_pub", args, kToolDeadline);
  std::filesystem::remove(file);
  return result.exit_code == 0;
}

std::string MosquittoBroker::Log() const {
  std::ifstream in(log_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace domian::testing
