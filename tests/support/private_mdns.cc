#include "tests/support/private_mdns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/die_with_parent.h"

namespace bp = boost::process;

namespace domian::testing {
namespace {

// Generous: a loaded CI machine starts a daemon in well under a second.
constexpr auto kStartTimeout = std::chrono::seconds(15);
// Folders that must be private in the namespace: avahi-daemon's pid file
// and socket, the static services it would publish, the real system bus.
constexpr const char* kPrivateFolders[] = {"/run/avahi-daemon", "/etc/avahi/services",
                                           "/run/dbus"};

std::string& Problem() {
  static std::string problem = "EnterPrivateNetwork() was not called";
  return problem;
}

std::string ConfigFile(const char* name) { return std::string(DOMIAN_TESTS_MDNS_DIR) + "/" + name; }

std::string ReadAll(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string EnterPrivateNetwork() {
  std::string& problem = Problem();
  if (::geteuid() != 0) {
    return problem = "needs root for a private network namespace (see tests/mdns/README.md)";
  }
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
    return problem = std::string("unshare(CLONE_NEWNET | CLONE_NEWNS): ") + std::strerror(errno);
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return problem = std::string("cannot make mounts private: ") + std::strerror(errno);
  }
  for (const char* folder : kPrivateFolders) {
    std::error_code ignored;
    std::filesystem::create_directories(folder, ignored);
    if (::mount("private-mdns", folder, "tmpfs", 0, "mode=0755") != 0) {
      return problem = std::string("cannot mount a tmpfs on ") + folder + ": " +
                       std::strerror(errno);
    }
  }
  // Loopback with multicast, so mDNS packets loop back to every listener.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"link", "set", "lo", "multicast", "on"},
        std::vector<std::string>{"link", "set", "lo", "up"}}) {
    const CommandResult result = RunCommand("/usr/sbin/ip", args);
    if (result.exit_code != 0) return problem = "ip " + args[2] + " lo: " + result.err;
  }
  RunCommand("/usr/sbin/ip", {"-6", "route", "add", "multicast", "ff00::/8", "dev", "lo", "table",
                              "local"});
  // Until a test starts a bus, D-Bus clients find none.
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/dbus/system_bus_socket", 1);
  problem.clear();
  return problem;
}

const std::string& PrivateNetworkProblem() { return Problem(); }

struct PrivateMdns::Process {
  bp::child child;
};

struct PublishProcess {
  bp::child child;
};

PrivateMdns::Publication::Publication(std::unique_ptr<PublishProcess> process)
    : process_(std::move(process)) {}

PrivateMdns::Publication::~Publication() {
  if (process_->child.running()) {
    process_->child.terminate();
    process_->child.wait();
  }
}

PrivateMdns::PrivateMdns(const std::filesystem::path& dir)
    : dir_(dir), bus_address_("unix:path=" + (dir / "system_bus_socket").string()) {
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_address_.c_str(), 1);
}

PrivateMdns::~PrivateMdns() {
  if (avahi_ && avahi_->child.running()) {
    ::kill(avahi_->child.id(), SIGTERM);
    avahi_->child.wait();
  }
  StopBus();
}

void PrivateMdns::Start() {
  StartBus();
  StartAvahi();
}

void PrivateMdns::StartBus() {
  const auto socket = dir_ / "system_bus_socket";
  std::filesystem::remove(socket);
  bus_ = std::make_unique<Process>(Process{bp::child(
      "/usr/bin/dbus-daemon", "--config-file=" + ConfigFile("dbus-system.conf"),
      "--address=" + bus_address_, "--nofork", "--nopidfile", bp::std_out > bp::null,
      bp::std_err > (dir_ / "dbus-daemon.log").string(), bp::std_in < bp::null,
      DieWithParent{})});
  if (!Eventually([&] { return std::filesystem::exists(socket); }, kStartTimeout)) {
    throw std::runtime_error("dbus-daemon did not start: " + ReadAll(dir_ / "dbus-daemon.log"));
  }
}

void PrivateMdns::StopBus() {
  if (bus_ && bus_->child.running()) {
    ::kill(bus_->child.id(), SIGTERM);
    bus_->child.wait();
  }
  bus_.reset();
}

bool PrivateMdns::AvahiServerRunning() {
  const CommandResult state =
      RunCommand("/usr/bin/dbus-send", {"--system", "--dest=org.freedesktop.Avahi", "--print-reply",
                                        "/", "org.freedesktop.Avahi.Server.GetState"});
  // AVAHI_SERVER_RUNNING
  return state.exit_code == 0 && state.out.find("int32 2") != std::string::npos;
}

void PrivateMdns::StartAvahi() {
  const std::string log = (dir_ / ("avahi-daemon.log." + std::to_string(++avahi_starts_))).string();
  avahi_ = std::make_unique<Process>(Process{bp::child(
      "/usr/sbin/avahi-daemon", "--no-drop-root", "--no-chroot", "--no-rlimits", "-f",
      ConfigFile("avahi-daemon.conf"), (bp::std_out & bp::std_err) > log, bp::std_in < bp::null,
      DieWithParent{})});
  if (!Eventually([&] { return AvahiServerRunning(); }, kStartTimeout)) {
    throw std::runtime_error("avahi-daemon did not start: " + AvahiLog());
  }
}

void PrivateMdns::KillAvahi() {
  if (!avahi_ || !avahi_->child.running()) return;
  ::kill(avahi_->child.id(), SIGKILL);
  avahi_->child.wait();
}

std::string PrivateMdns::AvahiLog() const {
  std::string all;
  for (int start = 1; start <= avahi_starts_; ++start) {
    all += ReadAll(dir_ / ("avahi-daemon.log." + std::to_string(start)));
  }
  return all;
}

namespace {

// avahi-browse -p escapes names DNS-style: "\032" is a space.
std::string UnescapeName(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(text[i + 2])) &&
        std::isdigit(static_cast<unsigned char>(text[i + 3]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 3)));
      i += 3;
    } else if (text[i] == '\\' && i + 1 < text.size()) {
      out += text[++i];
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::string>> PrivateMdns::Browse() {
  const CommandResult result =
      RunCommand("/usr/bin/avahi-browse", {"-r", "-p", "-t", "_domian._tcp"}, 20s);
  std::vector<std::vector<std::string>> resolved;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("=;", 0) != 0) continue;
    std::vector<std::string> fields;
    size_t start = 0;
    // The TXT strings (last field) may contain ';' themselves.
    while (fields.size() < 9) {
      const size_t end = line.find(';', start);
      if (end == std::string::npos) break;
      fields.push_back(line.substr(start, end - start));
      start = end + 1;
    }
    fields.push_back(line.substr(start));
    if (fields.size() > 3) fields[3] = UnescapeName(fields[3]);
    resolved.push_back(std::move(fields));
  }
  return resolved;
}

std::unique_ptr<PrivateMdns::Publication> PrivateMdns::Publish(
    const std::string& name, uint16_t port, const std::vector<std::string>& txt,
    const std::string& type) {
  std::vector<std::string> args = {"-s", name, type, std::to_string(port)};
  args.insert(args.end(), txt.begin(), txt.end());
  bp::ipstream out;
  bp::child child("/usr/bin/avahi-publish", bp::args(args), bp::std_out > bp::null,
                  bp::std_err > out, bp::std_in < bp::null, DieWithParent{});
  // avahi-publish says "Established under name '...'" on stderr once
  // registered, and exits (closing the pipe) on failure.
  std::string line;
  if (!std::getline(out, line) || line.find("Established") == std::string::npos) {
    if (child.running()) child.terminate();
    child.wait();
    throw std::runtime_error("avahi-publish " + name + " failed: " + line);
  }
  return std::make_unique<Publication>(
      std::make_unique<PublishProcess>(PublishProcess{std::move(child)}));
}

MdnsCapture::MdnsCapture() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  const int on = 1;
  // avahi-daemon holds port 5353 too; both may receive the group's packets.
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(5353);
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  ip_mreqn group{};
  group.imr_multiaddr.s_addr = inet_addr("224.0.0.251");
  group.imr_address.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
    ::close(fd_);
    throw std::runtime_error(std::string("cannot listen to mDNS on lo: ") + std::strerror(errno));
  }
}

MdnsCapture::~MdnsCapture() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string> MdnsCapture::PacketContaining(const std::string& needle,
                                                         std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) continue;
    std::string packet(9000, '\0');
    const ssize_t size = ::recv(fd_, packet.data(), packet.size(), 0);
    if (size <= 0) continue;
    packet.resize(static_cast<size_t>(size));
    if (packet.find(needle) != std::string::npos) return packet;
  }
}

}  // namespace domian::testing
