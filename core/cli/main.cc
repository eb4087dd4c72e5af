// domianctl: ask a running domiand what it knows.
//
//   domianctl [--node HOST:PORT] status [--json]
//   domianctl [--node HOST:PORT] peers  [--json]
//
// --json prints exactly one JSON document on stdout, for scripts. Any
// failure exits non-zero with a message on stderr.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli/control_client.h"

namespace po = boost::program_options;

namespace {

constexpr char kDefaultNode[] = "127.0.0.1:7420";
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: domianctl [--node HOST:PORT] [--json] COMMAND\n"
    "\n"
    "commands:\n"
    "  status   this node's identity\n"
    "  peers    every peer this node knows, with its state\n";

std::string JoinNames(const nlohmann::json& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ",";
    out += name.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

void PrintStatus(const nlohmann::json& status) {
  fmt::print("id:        {}\n", status["id"].get<std::string>());
  fmt::print("cluster:   {}\n", status["cluster"].get<std::string>());
  fmt::print("version:   {}\n", status["version"].get<std::string>());
  fmt::print("address:   {}\n", status["address"].get<std::string>());
  fmt::print("traits:    {}\n", JoinNames(status["traits"]));
  fmt::print("lonely:    {}\n", status["lonely"].get<bool>() ? "yes" : "no");
  fmt::print("uptime:    {:.0f}s\n", status["uptime_s"].get<double>());
  const auto& discovery = status["discovery"];
  std::string mdns = discovery["state"].get<std::string>();
  if (mdns != "off") {
    mdns += discovery["advertising"].get<bool>()
                ? ", advertising as '" + discovery["instance_name"].get<std::string>() + "'"
                : std::string(", not advertising");
    mdns += " (advertise: " + discovery["advertise"].get<std::string>() + ")";
  }
  fmt::print("mdns:      {}\n", mdns);
}

void PrintPeers(const nlohmann::json& peers) {
  if (peers.empty()) {
    fmt::print("no peers known (this domain is lonely)\n");
    return;
  }
  static constexpr char kRow[] = "{:<38} {:<22} {:<10} {:<9} {:>10}  {}\n";
  fmt::print(kRow, "ID", "ADDRESS", "STATE", "VERSION", "HEARD", "SERVICES");
  for (const auto& peer : peers) {
    std::string state = peer["state"].get<std::string>();
    if (peer["left"].get<bool>()) state += "(left)";
    fmt::print(kRow, peer["id"].get<std::string>(), peer["address"].get<std::string>(), state,
               peer["version"].get<std::string>(),
               fmt::format("{:.1f}s ago", peer["last_heard_s"].get<double>()),
               JoinNames(peer["services"]));
  }
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("node", po::value<std::string>()->default_value(kDefaultNode), "domiand to ask (host:port)")
      ("json", "print one JSON document instead of a table")
      ("timeout", po::value<int>()->default_value(static_cast<int>(domian::cli::kDefaultControlTimeout.count())), "milliseconds to wait for an answer")
      ("help,h", "print this help");
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::vector<std::string>>(), "command and arguments");
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("command", -1);

  po::variables_map args;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), args);
    po::notify(args);
  } catch (const po::error& error) {
    std::cerr << "domianctl: " << error.what() << "\n\n" << kUsage << options;
    return kExitUsage;
  }
  if (args.count("help") != 0) {
    std::cout << kUsage << "\n" << options;
    return 0;
  }
  if (args.count("command") == 0) {
    std::cerr << "domianctl: no command given\n\n" << kUsage;
    return kExitUsage;
  }
  const auto words = args["command"].as<std::vector<std::string>>();
  const std::string& command = words.front();
  const bool json = args.count("json") != 0;
  const int timeout_ms = args["timeout"].as<int>();
  if (timeout_ms <= 0) {
    std::cerr << "domianctl: --timeout must be positive\n";
    return kExitUsage;
  }
  if (words.size() > 1) {
    std::cerr << "domianctl: " << command << " takes no arguments\n";
    return kExitUsage;
  }

  domian::cli::ControlClient client(args["node"].as<std::string>(),
                                    std::chrono::milliseconds(timeout_ms));
  domian::cli::ControlResult<nlohmann::json> result;
  void (*print)(const nlohmann::json&) = nullptr;
  if (command == "status") {
    result = client.Status();
    print = PrintStatus;
  } else if (command == "peers") {
    result = client.Peers();
    print = PrintPeers;
  } else {
    std::cerr << "domianctl: unknown command '" << command << "'\n\n" << kUsage;
    return kExitUsage;
  }

  if (const auto* error = std::get_if<domian::cli::ControlError>(&result)) {
    std::cerr << "domianctl: " << error->message << "\n";
    return kExitFailure;
  }
  const auto& document = std::get<nlohmann::json>(result);
  if (json) {
    std::cout << document.dump() << "\n";
  } else {
    print(document);
  }
  return 0;
}
