#include "bench/serf_agent.h"

#include <signal.h>

#include <algorithm>
#include <boost/process.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tests/support/cluster.h"
#include "tests/support/die_with_parent.h"

namespace bp = boost::process;

namespace domian::bench {
namespace {

// `serf members` answers in milliseconds; this only bounds a hung one.
constexpr auto kMembersDeadline = std::chrono::seconds(10);
constexpr auto kExitWait = std::chrono::seconds(10);
constexpr char kRetryInterval[] = "1s";

}  // namespace

struct SerfAgent::Process {
  bp::ipstream output;
  bp::child child;
};

std::string SerfPath() {
  const char* path = std::getenv("DOMIAN_SERF");
  return path != nullptr && *path != '\0' ? path : bp::search_path("serf").string();
}

SerfAgent::SerfAgent(std::string name, std::string join)
    : name_(std::move(name)),
      join_(std::move(join)),
      bind_("127.0.0.1:" + std::to_string(testing::FreeLoopbackPort())),
      rpc_("127.0.0.1:" + std::to_string(testing::FreeLoopbackPort())) {}

SerfAgent::~SerfAgent() { Kill(); }

void SerfAgent::Start() {
  if (Pid() > 0) throw std::logic_error(name_ + " already running");
  if (reader_.joinable()) reader_.join();
  const std::string serf = SerfPath();
  if (serf.empty()) throw std::runtime_error("serf is not installed (apt-get install serf)");
  std::vector<std::string> args = {"agent", "-node=" + name_, "-bind=" + bind_,
                                   "-rpc-addr=" + rpc_, "-log-level=info"};
  // -join exits the agent when its one attempt fails, which happens when
  // many agents join the seed at once; -retry-join keeps trying.
  if (!join_.empty()) {
    args.insert(args.end(), {"-retry-join=" + join_, std::string("-retry-interval=") + kRetryInterval});
  }
  process_ = std::make_unique<Process>();
  process_->child = bp::child(bp::exe(serf), bp::args(args),
                              (bp::std_out & bp::std_err) > process_->output,
                              bp::std_in < bp::null, testing::DieWithParent{});
  reader_ = std::thread([this, stream = &process_->output] {
    std::string text;
    while (std::getline(*stream, text)) {
      const auto at = WallClock::now();
      std::lock_guard lock(mu_);
      lines_.push_back({at, std::move(text)});
    }
  });
}

void SerfAgent::Kill() {
  if (!process_) return;
  if (process_->child.running()) ::kill(process_->child.id(), SIGKILL);
  process_->child.wait();
  if (reader_.joinable()) reader_.join();
}

void SerfAgent::Leave() {
  if (!process_) return;
  if (process_->child.running()) ::kill(process_->child.id(), SIGINT);
  const auto until = std::chrono::steady_clock::now() + kExitWait;
  while (process_->child.running() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
}

int SerfAgent::Pid() const {
  return process_ && process_->child.running() ? process_->child.id() : -1;
}

std::optional<SerfAgent::WallClock::time_point> SerfAgent::LoggedAt(
    const std::vector<std::string>& needles, WallClock::time_point since) const {
  std::lock_guard lock(mu_);
  for (const Line& line : lines_) {
    if (line.at < since) continue;
    const bool match = std::all_of(needles.begin(), needles.end(), [&](const std::string& n) {
      return line.text.find(n) != std::string::npos;
    });
    if (match) return line.at;
  }
  return std::nullopt;
}

size_t SerfAgent::CountLogged(const std::string& needle) const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(lines_.begin(), lines_.end(), [&](const Line& line) {
    return line.text.find(needle) != std::string::npos;
  }));
}

std::optional<std::string> SerfAgent::Members() const {
  const testing::CommandResult result = testing::RunCommand(
      SerfPath(), {"members", "-rpc-addr=" + rpc_, "-format=json"}, kMembersDeadline);
  if (result.exit_code != 0) return std::nullopt;
  return result.out;
}

std::optional<std::string> SerfAgent::MemberStatus(const std::string& member) const {
  const auto text = Members();
  if (!text) return std::nullopt;
  const auto members = nlohmann::json::parse(*text, nullptr, false);
  if (!members.is_object()) return std::nullopt;
  for (const auto& entry : members.value("members", nlohmann::json::array())) {
    if (entry.value("name", "") == member) return entry.value("status", "");
  }
  return "";
}

int SerfAgent::AliveMembers() const {
  const auto members = nlohmann::json::parse(Members().value_or(""), nullptr, false);
  if (!members.is_object()) return 0;
  int alive = 0;
  for (const auto& entry : members.value("members", nlohmann::json::array())) {
    if (entry.value("status", "") == "alive") ++alive;
  }
  return alive;
}

}  // namespace domian::bench
