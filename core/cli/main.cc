// domianctl: ask a running domiand what it knows.
//
//   domianctl [--node HOST:PORT] status   [--json]
//   domianctl [--node HOST:PORT] peers    [--json]
//   domianctl [--node HOST:PORT] services [NAME] [--json]
//   domianctl [--node HOST:PORT] explain SERVICE [--json]
//   domianctl [--node HOST:PORT] plugins  [--json]
//   domianctl [--node HOST:PORT] call SERVICE COMMAND [JSON | -]
//
// --json prints exactly one JSON document on stdout, for scripts. Any
// failure exits non-zero with a message on stderr. Tables and messages
// show strings from other nodes and plugins through Printable: escaped,
// never as raw control characters.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli/control_client.h"
#include "core/cli/printable.h"
#include "core/cli/table.h"

namespace po = boost::program_options;
using domian::cli::Printable;
using domian::cli::Table;

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
    "                              prints its JSON reply; JSON '-' reads the\n"
    "                              arguments from stdin (at most 1 MiB)\n";

// A service call may wait on a device (a Hue bridge's link button: ~30 s);
// the node forwards it for up to 45 s (rpc::kForwardDeadline), plus room.
constexpr int kDefaultCallTimeoutMs = 50000;

// A string field of a document, as it may be shown (it can come from
// another node or a plugin).
std::string Shown(const nlohmann::json& document, const char* key,
                  size_t max_chars = domian::cli::kMaxFieldChars) {
  return Printable(document.value(key, ""), max_chars);
}

// Names joined with commas, "-" for none; raw (a Table cell, or Printable
// before it is shown).
std::string JoinNames(const nlohmann::json& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ",";
    out += name.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

std::string ShownNames(const nlohmann::json& names) {
  return Printable(JoinNames(names), domian::cli::kMaxListChars);
}

void PrintStatus(const nlohmann::json& status) {
  fmt::print("id:        {}\n", Shown(status, "id"));
  fmt::print("cluster:   {}\n", Shown(status, "cluster"));
  fmt::print("version:   {}\n", Shown(status, "version"));
  fmt::print("address:   {}\n", Shown(status, "address"));
  fmt::print("traits:    {}\n", ShownNames(status["traits"]));
  fmt::print("lonely:    {}\n", status["lonely"].get<bool>() ? "yes" : "no");
  fmt::print("uptime:    {:.0f}s\n", status["uptime_s"].get<double>());
  const auto& discovery = status["discovery"];
  std::string mdns = Shown(discovery, "state");
  if (mdns != "off") {
    mdns += discovery["advertising"].get<bool>()
                ? ", advertising as '" + Shown(discovery, "instance_name") + "'"
                : std::string(", not advertising");
    mdns += " (advertise: " + Shown(discovery, "advertise") + ")";
  }
  fmt::print("mdns:      {}\n", mdns);
}

void PrintPeers(const nlohmann::json& peers) {
  if (peers.empty()) {
    fmt::print("no peers known (this domain is lonely)\n");
    return;
  }
  Table table({{.header = "ID", .min_width = 38},
               {.header = "ADDRESS", .min_width = 22},
               {.header = "STATE", .min_width = 10},
               {.header = "VERSION", .min_width = 9},
               {.header = "HEARD", .min_width = 10, .align = Table::Align::kRight, .gap = 2},
               {.header = "SERVICES", .max_chars = domian::cli::kMaxListChars}});
  for (const auto& peer : peers) {
    std::string state = peer["state"].get<std::string>();
    if (peer["left"].get<bool>()) state += "(left)";
    table.Add({peer["id"].get<std::string>(), peer["address"].get<std::string>(), state,
               peer["version"].get<std::string>(),
               fmt::format("{:.1f}s ago", peer["last_heard_s"].get<double>()),
               JoinNames(peer["services"])});
  }
  fmt::print("{}", table.Render());
}

// `text`, or "-" when it is empty (a wanted service that runs nowhere has
// no node).
std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

void PrintServices(const nlohmann::json& services) {
  if (services.empty()) {
    fmt::print("no services known\n");
    return;
  }
  Table table({{.header = "SERVICE", .min_width = 16},
               {.header = "NODE", .min_width = 24},
               {.header = "STATE", .min_width = 12},
               {.header = "EPOCH", .min_width = 6, .align = Table::Align::kRight, .gap = 2},
               {.header = "ENDPOINT", .min_width = 8, .gap = 2},
               {.header = "DETAIL"}});
  for (const auto& service : services) {
    table.Add({service["name"].get<std::string>(), OrDash(service["node"].get<std::string>()),
               service["state"].get<std::string>(),
               std::to_string(service["epoch"].get<uint64_t>()),
               OrDash(service["endpoint"].get<std::string>()),
               OrDash(service.value("detail", ""))});
  }
  fmt::print("{}", table.Render());
}

void PrintExplanation(const nlohmann::json& explanation) {
  const std::string placement = Shown(explanation, "placement");
  fmt::print("{} ({}): {}\n", Shown(explanation, "service"),
             placement.empty() ? "no node has its plugin" : placement,
             Shown(explanation, "state"));
  const std::string detail = Shown(explanation, "detail", domian::cli::kMaxMessageChars);
  if (!detail.empty()) fmt::print("  detail:    {}\n", detail);
  const auto& running = explanation["running"];
  if (running.empty()) fmt::print("  runs nowhere\n");
  for (size_t i = 0; i < running.size(); ++i) {
    fmt::print("  {:<10} {} (epoch {}, {})\n", i == 0 ? "runs on:" : "",
               Printable(OrDash(running[i]["node"].get<std::string>())),
               running[i]["epoch"].get<uint64_t>(), Shown(running[i], "state"));
  }
  fmt::print("  wanted on: {}\n", ShownNames(explanation["chosen"]));
  fmt::print("  depends:   {}\n", ShownNames(explanation["depends"]));
  const auto& verdicts = explanation["verdicts"];
  if (verdicts.empty()) {
    fmt::print("no nodes known\n");
    return;
  }
  Table table({{.header = "NODE", .min_width = 11},
               {.header = "CANDIDATE", .min_width = 10},
               {.header = "WHY", .max_chars = domian::cli::kMaxMessageChars}});
  for (const auto& verdict : verdicts) {
    table.Add({OrDash(verdict["node"].get<std::string>()),
               verdict["candidate"].get<bool>() ? "yes" : "no",
               OrDash(verdict["reason"].get<std::string>())});
  }
  fmt::print("{}", table.Render());
}

void PrintPlugins(const nlohmann::json& plugins) {
  if (plugins.empty()) {
    fmt::print("no plugins found\n");
    return;
  }
  for (const auto& plugin : plugins) {
    if (!plugin["loaded"].get<bool>()) {
      fmt::print("refused  {}\n", Shown(plugin, "refusal", domian::cli::kMaxMessageChars));
      continue;
    }
    fmt::print("{} {} ({}, ABI {}): {}\n    {}\n", Shown(plugin, "name"), Shown(plugin, "version"),
               Shown(plugin, "placement"), Shown(plugin, "abi"), Shown(plugin, "description"),
               Shown(plugin, "path", domian::cli::kMaxMessageChars));
    for (const auto& command : plugin["commands"]) {
      fmt::print("    {:<12} {:<20} {}\n", Shown(command, "name"), Shown(command, "arguments"),
                 Shown(command, "description"));
    }
  }
}

void PrintReply(const nlohmann::json& reply) {
  std::cout << domian::cli::JsonText(reply, 2) << "\n";
}

// `call SERVICE COMMAND [JSON | -]`: "-" reads the arguments from stdin.
absl::StatusOr<nlohmann::json> Call(domian::cli::ControlClient& client,
                                    const std::vector<std::string>& words) {
  if (words.size() < 4 || words[3] != "-") {
    return client.Call(words[1], words[2], words.size() > 3 ? words[3] : "{}");
  }
  const absl::StatusOr<std::string> read = domian::cli::ReadArguments(std::cin);
  if (!read.ok()) return read.status();
  return client.Call(words[1], words[2], *read);
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
    std::cerr << "domianctl: wrong number of arguments for " << Printable(command) << "\n\n"
              << kUsage;
    return kExitUsage;
  }

  domian::cli::ControlClient client(args["node"].as<std::string>(),
                                    std::chrono::milliseconds(timeout_ms));
  absl::StatusOr<nlohmann::json> result;
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
    result = Call(client, words);
    print = PrintReply;
  } else {
    std::cerr << "domianctl: unknown command '" << Printable(command) << "'\n\n" << kUsage;
    return kExitUsage;
  }

  if (!result.ok()) {
    std::cerr << "domianctl: "
              << Printable(domian::StatusMessage(result.status()), domian::cli::kMaxMessageChars)
              << "\n";
    return kExitFailure;
  }
  const nlohmann::json& document = *result;
  if (json) {
    std::cout << domian::cli::JsonText(document) << "\n";
  } else {
    print(document);
  }
  return 0;
}
