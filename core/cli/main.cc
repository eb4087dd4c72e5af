// domianctl: ask a running domiand what it knows.
//
//   domianctl [--node HOST:PORT] status   [--json]
//   domianctl [--node HOST:PORT] peers    [--json]
//   domianctl [--node HOST:PORT] services [NAME] [--json]
//   domianctl [--node HOST:PORT] plugins  [--json]
//   domianctl [--node HOST:PORT] call SERVICE COMMAND [JSON]
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
    "  status                      this node's identity\n"
    "  peers                       every peer this node knows, with its state\n"
    "  services [NAME]             where the cluster's services run\n"
    "  plugins                     the plugins this node found (loaded or refused)\n"
    "  call SERVICE COMMAND [JSON] run a service's command wherever it runs;\n"
    "                              prints its JSON reply\n";

// A service call may wait on a device (a Hue bridge's link button: ~30 s).
constexpr int kDefaultCallTimeoutMs = 35000;

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

void PrintServices(const nlohmann::json& services) {
  if (services.empty()) {
    fmt::print("no services known\n");
    return;
  }
  static constexpr char kRow[] = "{:<16} {:<24} {:<12} {:>6}  {}\n";
  fmt::print(kRow, "SERVICE", "NODE", "STATE", "EPOCH", "ENDPOINT");
  for (const auto& service : services) {
    const std::string endpoint = service["endpoint"].get<std::string>();
    fmt::print(kRow, service["name"].get<std::string>(), service["node"].get<std::string>(),
               service["state"].get<std::string>(), service["epoch"].get<uint64_t>(),
               endpoint.empty() ? "-" : endpoint);
  }
}

void PrintPlugins(const nlohmann::json& plugins) {
  if (plugins.empty()) {
    fmt::print("no plugins found\n");
    return;
  }
  for (const auto& plugin : plugins) {
    if (!plugin["loaded"].get<bool>()) {
      fmt::print("refused  {}\n", plugin["refusal"].get<std::string>());
      continue;
    }
    fmt::print("{} {} ({}, ABI {}): {}\n    {}\n", plugin["name"].get<std::string>(),
               plugin["version"].get<std::string>(), plugin["placement"].get<std::string>(),
               plugin["abi"].get<std::string>(), plugin["description"].get<std::string>(),
               plugin["path"].get<std::string>());
    for (const auto& command : plugin["commands"]) {
      fmt::print("    {:<12} {:<20} {}\n", command["name"].get<std::string>(),
                 command["arguments"].get<std::string>(),
                 command["description"].get<std::string>());
    }
  }
}

void PrintReply(const nlohmann::json& reply) { std::cout << reply.dump(2) << "\n"; }

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
  int timeout_ms = args["timeout"].as<int>();
  if (timeout_ms <= 0) {
    std::cerr << "domianctl: --timeout must be positive\n";
    return kExitUsage;
  }
  if (command == "call" && args["timeout"].defaulted()) timeout_ms = kDefaultCallTimeoutMs;
  const size_t max_words = command == "call" ? 4 : command == "services" ? 2 : 1;
  const size_t min_words = command == "call" ? 3 : 1;
  if (words.size() > max_words || words.size() < min_words) {
    std::cerr << "domianctl: wrong number of arguments for " << command << "\n\n" << kUsage;
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
  } else if (command == "services") {
    result = client.Services(words.size() > 1 ? words[1] : "");
    print = PrintServices;
  } else if (command == "plugins") {
    result = client.Plugins();
    print = PrintPlugins;
  } else if (command == "call") {
    result = client.Call(words[1], words[2], words.size() > 3 ? words[3] : "{}");
    print = PrintReply;
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
