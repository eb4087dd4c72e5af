// domianctl: ask a running domiand what it knows.
//
//   domianctl [--node HOST:PORT] status   [--json]
//   domianctl [--node HOST:PORT] peers    [--json]
//   domianctl [--node HOST:PORT] services [NAME] [--json]
//   domianctl [--node HOST:PORT] services NAME --state [--json]
//   domianctl [--node HOST:PORT] explain SERVICE [--json]
//   domianctl [--node HOST:PORT] plugins  [--json]
//   domianctl [--node HOST:PORT] call SERVICE COMMAND [JSON | -]
//   domianctl [--node HOST:PORT] events [-f] [--last N] [--json]
//   domianctl [--node HOST:PORT] dashboard [--json]
//
//   domianctl cluster init [--config FILE]             (root, on the first node)
//   domianctl cluster invite [--ttl 1h] [--operator]   (prints a join code)
//   domianctl cluster join [--config FILE] [--via HOST:PORT]
//   domianctl cluster join --operator NAME [--via HOST:PORT]
//   domianctl node remove ID | operator remove NAME
//   domianctl cluster rotate-ca [--finish [--force]]
//
// Without --node, domianctl asks the daemon on this machine over its
// control socket (root and group domian may). With --node HOST:PORT it
// connects over mutual TLS with an operator's certificate from
// --credentials, $DOMIAN_CREDENTIALS or ~/.config/domian/credentials.
//
// --json prints exactly one JSON document on stdout, for scripts. Any
// failure exits non-zero with a message on stderr. Tables and messages
// show strings from other nodes and plugins through Printable: escaped,
// never as raw control characters.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <iostream>

#include <unistd.h>

#include "core/cli/control_client.h"
#include "core/cli/enrol.h"
#include "core/common/duration.h"
#include "core/config/node_config.h"
#include "core/rpc/transport_security.h"
#include "core/cli/printable.h"
#include "core/cli/table.h"

namespace po = boost::program_options;
using domian::cli::Printable;
using domian::cli::Table;

namespace {

constexpr char kDefaultConfig[] = "/etc/domian/node.yaml";
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: domianctl [--node HOST:PORT | unix:PATH] [--json] COMMAND\n"
    "\n"
    "commands:\n"
    "  status                      this node's identity\n"
    "  peers                       every peer this node knows, with its state\n"
    "  services [NAME]             where the cluster's services run\n"
    "  services NAME --state       each node's copy of the service's state: its\n"
    "                              version (epoch, seq, when changed, by whom), size\n"
    "  explain SERVICE             where a service runs, where placement wants it\n"
    "                              and why each node is or is not a candidate\n"
    "  plugins                     the plugins this node found (loaded or refused)\n"
    "  call SERVICE COMMAND [JSON] run a service's command wherever it runs;\n"
    "                              prints its JSON reply; JSON '-' reads the\n"
    "                              arguments from stdin (at most 1 MiB)\n"
    "  events [-f] [--last N]      what happened on this node: peers' states, placement's\n"
    "                              decisions, services' health, plugins' events (the last\n"
    "                              N, default 50); -f: then follow as they happen.\n"
    "                              --json: one JSON object per line\n"
    "  dashboard                   print a one-time link that opens this node's\n"
    "                              dashboard in a browser (valid 5 minutes)\n"
    "\n"
    "cluster membership:\n"
    "  cluster init                make the cluster's CA and this node's certificate\n"
    "                              (root, on the first node; reads --config)\n"
    "  cluster invite [--ttl 1h] [--operator]\n"
    "                              print a single-use code for a node (or an operator)\n"
    "  cluster join [--via HOST:PORT]\n"
    "                              join with a code read from stdin (root, on a new\n"
    "                              node; reads --config)\n"
    "  cluster join --operator NAME [--via HOST:PORT]\n"
    "                              get an operator certificate for this user\n"
    "  node remove ID              shut a node out of the cluster, everywhere\n"
    "  operator remove NAME        shut an operator out\n"
    "  cluster rotate-ca           start changing the cluster's CA: every member trusts\n"
    "                              the old and the new one and switches to a certificate\n"
    "                              of the new one, without a restart\n"
    "  cluster rotate-ca --finish [--force]\n"
    "                              stop trusting the old CA, once every member switched\n"
    "                              (--force: even if some did not; they must join again)\n";

// `events` shows this many recent ones unless --last says otherwise; the
// node keeps 512 (events::EventJournal::Options::history).
constexpr int kDefaultEventBacklog = 50;
constexpr int kMaxEventBacklog = 512;

// Finishing a change of CA asks every member first (each within
// rpc::kMemberCaDeadline, 5 s), plus room.
constexpr int kDefaultRotateTimeoutMs = 15000;

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

// The MQTT bridge's lines of `status`.
void PrintMqtt(const nlohmann::json& mqtt) {
  if (!mqtt.value("configured", false)) {
    fmt::print("mqtt:      off (no mqtt section in node.yaml)\n");
    return;
  }
  const std::string state = Shown(mqtt, "state");
  std::string line = fmt::format("{} {}{} for {:.0f}s", state, Shown(mqtt, "broker"),
                                 mqtt.value("tls", false) ? " (TLS)" : "",
                                 mqtt.value("state_s", 0.0));
  if (state == "retrying") {
    line += fmt::format(", next attempt in {:.0f}s", mqtt.value("retry_in_s", 0.0));
  }
  fmt::print("mqtt:      {}\n", line);
  if (!mqtt.value("last_error", "").empty()) {
    fmt::print("           last problem {:.0f}s ago: {}\n", mqtt.value("last_error_s", 0.0),
               Shown(mqtt, "last_error", domian::cli::kMaxMessageChars));
  }
  fmt::print("           {} published, {} dropped, {} queued; availability on {}\n",
             mqtt.value("published", uint64_t{0}), mqtt.value("dropped", uint64_t{0}),
             mqtt.value("queued", uint64_t{0}), Shown(mqtt, "availability_topic"));
  fmt::print("           Home Assistant: {} entities of {} services; {} commands, {} failed, "
             "{} dropped\n",
             mqtt.value("entities", uint64_t{0}), mqtt.value("services", uint64_t{0}),
             mqtt.value("commands", uint64_t{0}), mqtt.value("commands_failed", uint64_t{0}),
             mqtt.value("commands_dropped", uint64_t{0}));
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
  PrintMqtt(status.value("mqtt", nlohmann::json::object()));
  const auto& security = status["security"];
  if (security["transport"] == "mtls") {
    fmt::print("security:  mutual TLS, CA {}, {} removed, {} open invitation(s)\n",
               Shown(security, "ca_fingerprint"), security["revoked"].get<uint64_t>(),
               security["open_invites"].get<uint64_t>());
    if (security.value("rotating", false)) {
      fmt::print("           changing CA: trusts {} (new) and {} (old); this node's "
                 "certificate is of {}. Finish with `domianctl cluster rotate-ca --finish`\n",
                 Printable(JoinNames(security["roots"]).substr(0, 64)),
                 Printable(security["roots"].size() > 1 ? security["roots"][1].get<std::string>()
                                                        : std::string("-")),
                 Shown(security, "certificate_ca"));
    }
  } else {
    fmt::print("security:  PLAINTEXT (security.plaintext: anyone on the network can call every "
               "service; for development only)\n");
  }
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

// `services NAME --state`: where each node's copy of the state stands.
void PrintStateCopies(const nlohmann::json& copies) {
  Table table({{.header = "NODE", .min_width = 24},
               {.header = "EPOCH", .min_width = 6, .align = Table::Align::kRight},
               {.header = "SEQ", .min_width = 6, .align = Table::Align::kRight},
               {.header = "CHANGED AT (HLC)", .min_width = 18, .gap = 2},
               {.header = "BY", .min_width = 16},
               {.header = "BYTES", .min_width = 6, .align = Table::Align::kRight},
               {.header = "NOTE"}});
  for (const auto& copy : copies) {
    if (!copy.value("has_copy", false)) {
      table.Add({copy.value("node", ""), "-", "-", "-", "-", "-",
                 copy.value("error", "").empty() ? "no copy" : copy.value("error", "")});
      continue;
    }
    table.Add({copy.value("node", ""), std::to_string(copy.value("epoch", uint64_t{0})),
               std::to_string(copy.value("seq", uint64_t{0})), copy.value("changed_at", ""),
               copy.value("writer", ""), std::to_string(copy.value("bytes", uint64_t{0})),
               copy.value("deleted", false) ? "deleted" : ""});
  }
  fmt::print("{}", table.Render());
  for (const auto& copy : copies) {
    const std::string node = Printable(copy.value("node", ""));
    if (copy.value("runs_here", false)) {
      fmt::print("{} runs it (epoch {}), started from {}\n", node,
                 copy.value("run_epoch", uint64_t{0}),
                 Shown(copy, "started_from", domian::cli::kMaxMessageChars));
    }
    if (copy.contains("set_aside")) {
      const auto& aside = copy["set_aside"];
      fmt::print("{} set aside {}, which lost to {}; kept in {}\n", node,
                 Shown(aside, "version"), Shown(aside, "lost_to"),
                 Shown(aside, "file", domian::cli::kMaxMessageChars));
    }
  }
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
  if (explanation.contains("state_copies")) {
    const auto& state = explanation["state_copies"];
    if (state.contains("error")) {
      fmt::print("  state:     not known ({})\n",
                 Shown(state, "error", domian::cli::kMaxMessageChars));
    }
    for (const auto& owner : state["owners"]) {
      fmt::print("  state:     {} started it (epoch {}) from {}\n", Shown(owner, "node"),
                 owner.value("epoch", uint64_t{0}),
                 Shown(owner, "started_from", domian::cli::kMaxMessageChars));
    }
    for (const auto& aside : state["set_aside"]) {
      fmt::print("  set aside: on {}: {}, which lost to {} (kept in {})\n", Shown(aside, "node"),
                 Shown(aside, "version"), Shown(aside, "lost_to"),
                 Shown(aside, "file", domian::cli::kMaxMessageChars));
    }
  }
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

void PrintInvite(const nlohmann::json& invite) {
  // The code alone on stdout, so that it can be piped; the rest for people.
  std::cerr << "single-use join code (enter it at `domianctl cluster join` on the new machine; "
               "valid until "
            << fmt::format("{:%Y-%m-%d %H:%M:%S} UTC",
                           fmt::gmtime(static_cast<std::time_t>(invite["expires_unix"].get<int64_t>())))
            << "):\n";
  std::cout << invite["code"].get<std::string>() << "\n";
}

void PrintDashboardLink(const nlohmann::json& link) {
  // The link alone on stdout, so that it can be piped (to a browser, a QR
  // code); the rest for people.
  std::cerr << "one-time login link to the dashboard (open it within 5 minutes, until "
            << fmt::format("{:%H:%M:%S} UTC",
                           fmt::gmtime(static_cast<std::time_t>(link["expires_unix"].get<int64_t>())))
            << "; it works once, and keeps that browser logged in):\n";
  std::cout << link["url"].get<std::string>() << "\n";
}

void PrintRemoved(const nlohmann::json& removed) {
  fmt::print("removed; revocation list {} spreads to every member within seconds\n",
             removed["revocation_number"].get<uint64_t>());
}

void PrintRotated(const nlohmann::json& rotated) {
  if (rotated["finished"].get<bool>()) {
    fmt::print("change of CA {} finished: CA {} alone is trusted; it reaches every member "
               "within seconds\n",
               rotated["number"].get<uint64_t>(), Shown(rotated, "ca_fingerprint"));
    return;
  }
  fmt::print("change of CA {} started: new CA {}. Every member trusts it beside the old one and "
             "switches to a certificate of it within seconds, without a restart.\n"
             "next: `domianctl cluster rotate-ca --finish` once `domianctl status` on the "
             "members shows their certificate is of the new CA. Operators: get a new "
             "certificate (`cluster invite --operator`, then `cluster join --operator`) before "
             "the finish.\n",
             rotated["number"].get<uint64_t>(), Shown(rotated, "ca_fingerprint"));
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

// The credentials to reach `node` with: none (null: plaintext) over the
// control socket or with --plaintext, else the operator's.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CredentialsFor(
    const std::string& node, const po::variables_map& args) {
  if (node.rfind("unix:", 0) == 0 || args.count("plaintext") != 0) {
    return std::shared_ptr<grpc::ChannelCredentials>();
  }
  const std::filesystem::path folder = args.count("credentials") != 0
                                           ? std::filesystem::path(args["credentials"].as<std::string>())
                                           : domian::cli::OperatorCredentialsFolder();
  absl::StatusOr<domian::trust::Credentials> credentials = domian::trust::LoadCredentials(folder);
  if (!credentials.ok()) {
    if (absl::IsNotFound(credentials.status())) {
      return absl::FailedPreconditionError(
          "no operator certificate in " + folder.string() +
          " to reach " + node + " with. On a node, leave out --node: domianctl then uses the "
          "control socket (as root or in group domian). Elsewhere, get one: `domianctl cluster "
          "invite --operator` on a node, then `domianctl cluster join --operator NAME` here");
    }
    return credentials.status();
  }
  const std::string cluster = credentials->self.cluster;
  return domian::rpc::ClientCredentials(
      *credentials, [cluster](const domian::trust::Subject& server) -> absl::Status {
        if (server.cluster != cluster || server.role != domian::trust::Role::kNode) {
          return absl::UnauthenticatedError("the server is " + domian::trust::Describe(server) +
                                            ", not a node of cluster " + cluster);
        }
        return absl::OkStatus();
      });
}

// The join code: typed (or pasted) at a prompt, or piped in; never an
// argument, which every user of the machine could read in ps.
absl::StatusOr<std::string> ReadJoinCode() {
  if (::isatty(STDIN_FILENO) != 0) std::cerr << "join code: " << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) return absl::InvalidArgumentError("no join code on stdin");
  return line;
}

// One event as a line: local time, kind, what, node, service, detail.
void PrintEvent(const nlohmann::json& event) {
  const auto ms = event.value("unix_ms", int64_t{0});
  const auto time = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  std::string detail = event.value("detail", "");
  if (event["data"].is_object() || event["data"].is_array()) {
    detail += (detail.empty() ? "" : " ") + event["data"].dump();
  }
  fmt::print("{:%Y-%m-%d %H:%M:%S}.{:03d}  #{:<5} {:<9} {:<12} {:<14} {:<16} {}\n",
             fmt::localtime(std::chrono::system_clock::to_time_t(time)), ms % 1000,
             event.value("seq", uint64_t{0}), Printable(event.value("kind", "")),
             Printable(event.value("what", "")), Printable(event.value("node", "")),
             Printable(event.value("service", "")), Printable(detail));
  std::fflush(stdout);
}

int Fail(const absl::Status& status) {
  std::cerr << "domianctl: "
            << Printable(domian::StatusMessage(status), domian::cli::kMaxMessageChars) << "\n";
  return kExitFailure;
}

absl::StatusOr<domian::config::NodeConfig> NodeConfig(const po::variables_map& args) {
  const std::string file = args["config"].as<std::string>();
  absl::StatusOr<domian::config::NodeConfig> config = domian::config::LoadNodeConfig(file);
  if (!config.ok()) {
    return absl::InvalidArgumentError(std::string(domian::StatusMessage(config.status())));
  }
  return config;
}

// `cluster init` and `cluster join`: on this machine's files.
int Enrol(const std::vector<std::string>& words, const po::variables_map& args, bool json,
          std::chrono::milliseconds timeout) {
  absl::StatusOr<domian::cli::Enrolled> enrolled;
  if (words[1] == "init") {
    absl::StatusOr<domian::config::NodeConfig> config = NodeConfig(args);
    if (!config.ok()) return Fail(config.status());
    enrolled = domian::cli::InitCluster(*config);
  } else {
    domian::cli::JoinTarget target;
    if (args.count("operator") != 0) {
      target.role = domian::trust::Role::kOperator;
      target.name = args["operator"].as<std::string>();
      target.folder = args.count("credentials") != 0
                          ? std::filesystem::path(args["credentials"].as<std::string>())
                          : domian::cli::OperatorCredentialsFolder();
    } else {
      absl::StatusOr<domian::config::NodeConfig> config = NodeConfig(args);
      if (!config.ok()) return Fail(config.status());
      absl::StatusOr<domian::cli::JoinTarget> node = domian::cli::NodeJoinTarget(*config);
      if (!node.ok()) return Fail(node.status());
      target = *std::move(node);
    }
    if (args.count("via") != 0) target.via = args["via"].as<std::vector<std::string>>();
    absl::StatusOr<std::string> code = ReadJoinCode();
    if (!code.ok()) return Fail(code.status());
    enrolled = domian::cli::JoinCluster(target, *code, timeout);
  }
  if (!enrolled.ok()) return Fail(enrolled.status());
  const std::string who = domian::trust::Describe(enrolled->subject);
  if (json) {
    std::cout << domian::cli::JsonText({{"role", std::string(domian::trust::RoleName(enrolled->subject.role))},
                                        {"name", enrolled->subject.name},
                                        {"cluster", enrolled->subject.cluster},
                                        {"ca_fingerprint", enrolled->ca_fingerprint},
                                        {"folder", enrolled->folder.string()},
                                        {"admitted_by", enrolled->admitted_by}})
              << "\n";
    return 0;
  }
  if (words[1] == "init") {
    fmt::print("made cluster '{}' (CA fingerprint {})\nthis is {}; credentials in {}\n"
               "domiand starts serving within a second if it runs (else: systemctl start "
               "domiand).\nnext: `domianctl cluster invite` prints a code for the next node\n",
               Printable(enrolled->subject.cluster), enrolled->ca_fingerprint, Printable(who),
               enrolled->folder.string());
  } else {
    fmt::print("joined as {} (admitted by {}); credentials in {}\n", Printable(who),
               Printable(enrolled->admitted_by), enrolled->folder.string());
    if (enrolled->subject.role == domian::trust::Role::kNode) {
      fmt::print("domiand starts serving within a second if it runs (else: systemctl start "
                 "domiand)\n");
    } else {
      fmt::print("use it with: domianctl --node HOST:PORT status\n");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("node", po::value<std::string>()->default_value(domian::cli::kLocalNode), "domiand to ask: host:port (mutual TLS) or unix:PATH (its control socket)")
      ("json", "print one JSON document instead of a table")
      ("state", "services NAME: each node's copy of its state (version, size)")
      ("timeout", po::value<int>()->default_value(static_cast<int>(domian::cli::kDefaultControlTimeout.count())), "milliseconds to wait for an answer")
      ("credentials", po::value<std::string>(), "an operator's credentials folder (default $DOMIAN_CREDENTIALS, else ~/.config/domian/credentials)")
      ("plaintext", "connect without TLS (to a development cluster with security.plaintext)")
      ("config", po::value<std::string>()->default_value(kDefaultConfig), "node.yaml, for cluster init and join")
      ("ttl", po::value<std::string>()->default_value("1h"), "how long an invitation lasts (1m to 7d)")
      ("operator", po::value<std::string>()->implicit_value(""), "invite: an operator; join: as operator NAME")
      ("via", po::value<std::vector<std::string>>(), "join: a member to ask first (host:port)")
      ("finish", "rotate-ca: stop trusting the old CA")
      ("force", "rotate-ca --finish: even when members did not switch")
      ("follow,f", "events: keep following what happens")
      ("last", po::value<int>()->default_value(kDefaultEventBacklog), "events: how many recent events first (0 to 512)")
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
  if (command == "cluster" && words.size() > 1 && words[1] == "rotate-ca" &&
      args["timeout"].defaulted()) {
    timeout_ms = kDefaultRotateTimeoutMs;
  }
  size_t min_words = 1;  // the command included
  size_t max_words = 1;
  if (command == "cluster") {
    min_words = 2;
    max_words = 2;
  } else if (command == "node" || command == "operator") {
    min_words = 3;
    max_words = 3;
  } else if (command == "call") {
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

  if (command == "cluster" && (words[1] == "init" || words[1] == "join")) {
    if (words[1] == "init" && args.count("operator") != 0) {
      std::cerr << "domianctl: cluster init makes a node; --operator is for invite and join\n";
      return kExitUsage;
    }
    if (words[1] == "join" && args.count("operator") != 0 &&
        args["operator"].as<std::string>().empty()) {
      std::cerr << "domianctl: cluster join --operator needs the NAME to join as\n";
      return kExitUsage;
    }
    return Enrol(words, args, json, std::chrono::milliseconds(timeout_ms));
  }
  const std::string node = args["node"].as<std::string>();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      CredentialsFor(node, args);
  if (!credentials.ok()) return Fail(credentials.status());
  domian::cli::ControlClient client(node, std::chrono::milliseconds(timeout_ms), *credentials);
  absl::StatusOr<nlohmann::json> result;
  void (*print)(const nlohmann::json&) = nullptr;
  if (command == "cluster" && words[1] == "invite") {
    const std::optional<domian::Millis> ttl = domian::ParseDuration(args["ttl"].as<std::string>());
    if (!ttl || *ttl < std::chrono::seconds(1)) {
      std::cerr << "domianctl: --ttl: expected a duration like 1h or 30m\n";
      return kExitUsage;
    }
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*ttl).count();
    result = client.Invite(args.count("operator") != 0 ? "operator" : "node",
                           static_cast<uint32_t>(std::min<int64_t>(seconds, UINT32_MAX)));
    print = PrintInvite;
  } else if (command == "cluster" && words[1] == "rotate-ca") {
    if (args.count("force") != 0 && args.count("finish") == 0) {
      std::cerr << "domianctl: --force goes with --finish\n";
      return kExitUsage;
    }
    result = client.RotateCa(args.count("finish") != 0, args.count("force") != 0);
    print = PrintRotated;
  } else if (command == "cluster") {
    std::cerr << "domianctl: unknown cluster command '" << Printable(words[1]) << "'\n\n" << kUsage;
    return kExitUsage;
  } else if ((command == "node" || command == "operator") && words[1] == "remove") {
    result = client.Remove(command, words[2]);
    print = PrintRemoved;
  } else if (command == "node" || command == "operator") {
    std::cerr << "domianctl: unknown " << command << " command '" << Printable(words[1])
              << "'\n\n" << kUsage;
    return kExitUsage;
  } else if (command == "status") {
    result = client.Status();
    print = PrintStatus;
  } else if (command == "peers") {
    result = client.Peers();
    print = PrintPeers;
  } else if (command == "services" && args.count("state") != 0) {
    if (words.size() < 2) {
      std::cerr << "domianctl: services --state needs a SERVICE\n";
      return kExitUsage;
    }
    result = client.StateCopies(words[1]);
    print = PrintStateCopies;
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
  } else if (command == "events") {
    const int last = args["last"].as<int>();
    if (last < 0 || last > kMaxEventBacklog) {
      std::cerr << "domianctl: --last: expected 0 to " << kMaxEventBacklog << "\n";
      return kExitUsage;
    }
    // Each event as it comes: a followed stream has no end to wait for.
    const absl::Status watched = client.Events(
        static_cast<uint32_t>(last), args.count("follow") != 0, [json](const nlohmann::json& event) {
          if (json) {
            std::cout << domian::cli::JsonText(event) << std::endl;
          } else {
            PrintEvent(event);
          }
          return static_cast<bool>(std::cout);
        });
    if (!watched.ok()) return Fail(watched);
    return 0;
  } else if (command == "dashboard") {
    result = client.DashboardLink();
    print = PrintDashboardLink;
  } else {
    std::cerr << "domianctl: unknown command '" << Printable(command) << "'\n\n" << kUsage;
    return kExitUsage;
  }

  if (!result.ok()) return Fail(result.status());
  const nlohmann::json& document = *result;
  if (json) {
    std::cout << domian::cli::JsonText(document) << "\n";
  } else {
    print(document);
  }
  return 0;
}
