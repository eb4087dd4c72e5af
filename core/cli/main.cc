// domianctl: ask a running domiand what it knows.
//
//   domianctl [--node HOST:PORT] status   [--json]
//   domianctl [--node HOST:PORT] peers    [--json]
//   domianctl [--node HOST:PORT] services [NAME] [--json]
//   domianctl [--node HOST:PORT] explain SERVICE [--json]
//   domianctl [--node HOST:PORT] plugins  [--json]
//   domianctl [--node HOST:PORT] call SERVICE COMMAND [JSON]
//
// --json prints exactly one JSON document on stdout, for scripts. Any
// failure exits non-zero with a message on stderr.
#include <fmt/format.h>

#include <algorithm>
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
    "  explain SERVICE             where a service runs, where placement wants it\n"
    "                              and why each node is or is not a candidate\n"
    "  plugins                     the plugins this node found (loaded or refused)\n"
    "  call SERVICE COMMAND [JSON] run a service's command wherever it runs;\n"
    "                              prints its JSON reply\n";

// A service call may wait on a device (a Hue bridge's link button: ~30 s);
// the node forwards it for up to 45 s (rpc::kForwardDeadline), plus room.
constexpr int kDefaultCallTimeoutMs = 50000;

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

// `text`, or "-" when it is empty (a wanted service that runs nowhere has
// no node).
std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

// The width of a table column: `minimum`, or wider to fit every row's
// `key` (as OrDash prints it), so long names do not shift later columns.
size_t ColumnWidth(const nlohmann::json& rows, const char* key, size_t minimum) {
  size_t width = minimum;
  for (const auto& row : rows) width = std::max(width, OrDash(row[key].get<std::string>()).size());
  return width;
}

void PrintServices(const nlohmann::json& services) {
  if (services.empty()) {
    fmt::print("no services known\n");
    return;
  }
  static constexpr char kRow[] = "{:<{}} {:<{}} {:<{}} {:>6}  {:<{}}  {}\n";
  const size_t name_width = ColumnWidth(services, "name", 16);
  const size_t node_width = ColumnWidth(services, "node", 24);
  const size_t state_width = ColumnWidth(services, "state", 12);
  const size_t endpoint_width = ColumnWidth(services, "endpoint", 8);
  fmt::print(kRow, "SERVICE", name_width, "NODE", node_width, "STATE", state_width, "EPOCH",
             "ENDPOINT", endpoint_width, "DETAIL");
  for (const auto& service : services) {
    fmt::print(kRow, service["name"].get<std::string>(), name_width,
               OrDash(service["node"].get<std::string>()), node_width,
               service["state"].get<std::string>(), state_width, service["epoch"].get<uint64_t>(),
               OrDash(service["endpoint"].get<std::string>()), endpoint_width,
               OrDash(service.value("detail", "")));
  }
}

void PrintExplanation(const nlohmann::json& explanation) {
  const std::string placement = explanation["placement"].get<std::string>();
  fmt::print("{} ({}): {}\n", explanation["service"].get<std::string>(),
             placement.empty() ? "no node has its plugin" : placement,
             explanation["state"].get<std::string>());
  const std::string detail = explanation["detail"].get<std::string>();
  if (!detail.empty()) fmt::print("  detail:    {}\n", detail);
  const auto& running = explanation["running"];
  if (running.empty()) fmt::print("  runs nowhere\n");
  for (size_t i = 0; i < running.size(); ++i) {
    fmt::print("  {:<10} {} (epoch {}, {})\n", i == 0 ? "runs on:" : "",
               OrDash(running[i]["node"].get<std::string>()), running[i]["epoch"].get<uint64_t>(),
               running[i]["state"].get<std::string>());
  }
  fmt::print("  wanted on: {}\n", JoinNames(explanation["chosen"]));
  fmt::print("  depends:   {}\n", JoinNames(explanation["depends"]));
  const auto& verdicts = explanation["verdicts"];
  if (verdicts.empty()) {
    fmt::print("no nodes known\n");
    return;
  }
  static constexpr char kRow[] = "{:<{}} {:<10} {}\n";
  const size_t node_width = ColumnWidth(verdicts, "node", 11);
  fmt::print(kRow, "NODE", node_width, "CANDIDATE", "WHY");
  for (const auto& verdict : verdicts) {
    fmt::print(kRow, OrDash(verdict["node"].get<std::string>()), node_width,
               verdict["candidate"].get<bool>() ? "yes" : "no",
               OrDash(verdict["reason"].get<std::string>()));
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
  size_t min_words = 1;  // the command included
  size_t max_words = 1;
  if (command == "call") {
    min_words = 3;
    max_words = 4;
  } else if (command == "services") {
    max_words = 2;
  } else if (command == "explain") {
    min_words = 2;
    max_words = 2;
  }
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
  } else if (command == "explain") {
    result = client.Explain(words[1]);
    print = PrintExplanation;
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
