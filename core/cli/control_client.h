// ControlClient: what domianctl (and the multi-node tests) ask a running
// domiand, returned as JSON documents in the shapes the CLI contract
// names. Kept apart from main() so tests and benchmarks use the very same
// code path as people; the dashboard's API (core/web) asks the node it
// runs in through it too, over an in-process channel, so a page sees the
// very same documents as `domianctl --json`.
//
// Threads: every method may be called from any thread, several at once.
//
// A failed request is a Status whose message is what to tell the user on
// stderr; its code is the node's gRPC code when the node answered (or
// could not be reached: UNAVAILABLE, DEADLINE_EXCEEDED), INVALID_ARGUMENT
// when the arguments were refused here.
#pragma once

#include <chrono>
#include <functional>
#include <istream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include <grpcpp/security/credentials.h>

#include "core/common/status.h"

namespace domian::cli {

// How long one CLI request may take before it is reported as unreachable.
inline constexpr std::chrono::milliseconds kDefaultControlTimeout{3000};

// `document` as JSON text (indented by `indent` when not -1). A string
// that is not UTF-8 (from a peer or a plugin) would make nlohmann's dump
// throw; its bad bytes become U+FFFD instead, so the output is always one
// valid JSON document.
std::string JsonText(const nlohmann::json& document, int indent = -1);

// The arguments document of a call read from `in` (domianctl's "-": one
// command-line argument is limited to 128 KiB on Linux, the call's
// arguments to 1 MiB). Past the limit the rest is only counted, not kept,
// so the refusal can say how large the document was.
absl::StatusOr<std::string> ReadArguments(std::istream& in);

// The node domianctl asks when --node is not given: the control socket
// on this machine.
inline constexpr char kLocalNode[] = "unix:/run/domian/domiand.sock";

class ControlClient {
 public:
  // `node_address`: host:port (over TLS with `credentials`, an operator's)
  // or unix:PATH (the control socket; `credentials` unused); null
  // `credentials`: plaintext (a development node).
  ControlClient(const std::string& node_address, std::chrono::milliseconds timeout,
                std::shared_ptr<grpc::ChannelCredentials> credentials);
  // Over a server's InProcessChannel; `name` says whom it reaches in
  // messages ("domiand at NAME answered: ...").
  ControlClient(std::shared_ptr<grpc::Channel> channel, std::string name,
                std::chrono::milliseconds timeout);
  ~ControlClient();

  // Ends the calls in flight (CANCELLED) and fails every later one at
  // once: for an owner that is stopping and must not wait out a call's
  // timeout (a service call may take 50 s).
  void CancelCalls();

  // {"id", "cluster", "version", "address", "incarnation", "lonely",
  //  "uptime_s", "traits", "services", "traffic": {lists_sent, lists_received,
  //  bytes_sent, bytes_received}, "discovery": {...}, "security":
  //  {transport, ca_fingerprint, revocation_number, revoked, open_invites,
  //  roots, rotating, certificate_ca, root_change_number}}
  absl::StatusOr<nlohmann::json> Status();
  // [{"id", "address", "state", "version", "services", "left", ...}]
  absl::StatusOr<nlohmann::json> Peers();
  // [{"name", "node", "address", "state", "epoch", "endpoint"}], every
  // service the node knows of in the cluster (or only `name`); a wanted
  // service that runs nowhere comes with node "" and state waiting or
  // unplaced.
  absl::StatusOr<nlohmann::json> Services(const std::string& name = "");
  // Each live node's copy of `service`'s state, the asked node first:
  // [{"node", "has_copy", "epoch", "seq", "changed_at" ("<ms>.<n>", the
  // change's hybrid logical clock), "writer", "deleted", "bytes",
  // "error"}]; the states themselves never.
  absl::StatusOr<nlohmann::json> StateCopies(const std::string& service);
  // Where `service` runs, where placement wants it and why not elsewhere:
  // {"service", "placement", "wanted", "state", "detail", "chosen": [ids],
  //  "running": [rows as Services() gives them], "verdicts": [{"node",
  //  "candidate", "reason"}], "depends": [names]}
  absl::StatusOr<nlohmann::json> Explain(const std::string& service);
  // [{"name", "version", "description", "path", "placement", "traits",
  //   "depends", "commands": [{"name", "arguments", "description"}], "abi",
  //   "loaded", "refusal"}]
  absl::StatusOr<nlohmann::json> Plugins();
  // The service's reply to `command` with `args_json`, wherever it runs.
  absl::StatusOr<nlohmann::json> Call(const std::string& service, const std::string& command,
                                      const std::string& args_json);
  // {"url", "expires_unix"}: a one-time link that opens a session of the
  // node's dashboard (http://HOST:PORT/login?token=...), valid 5 minutes.
  absl::StatusOr<nlohmann::json> DashboardLink();
  // {"code", "expires_unix"}: a single-use join code for a node or an
  // operator ("node" | "operator"), valid for `ttl_seconds`.
  absl::StatusOr<nlohmann::json> Invite(const std::string& role, uint32_t ttl_seconds);
  // {"revocation_number"}: shuts a node or operator out cluster-wide.
  absl::StatusOr<nlohmann::json> Remove(const std::string& role, const std::string& name);
  // {"number", "ca_fingerprint", "finished", "members": [{"node",
  //  "ca_fingerprint", "error"}]}: starts a change of the cluster's CA, or
  // finishes it (`finish`; `force`: even when members did not switch).
  absl::StatusOr<nlohmann::json> RotateCa(bool finish, bool force);
  // The node's events, oldest first: the last `backlog` it keeps, then,
  // with `follow`, each as it happens, until `on_event` returns false (or
  // the node stops: UNAVAILABLE). Each as {"seq", "unix_ms", "kind",
  // "what", "node", "service", "detail", "data" (the plugin's JSON, or
  // null), "seconds" (or null), "count"}. The timeout bounds reaching the
  // node; a followed stream has no deadline.
  absl::Status Events(uint32_t backlog, bool follow,
                      const std::function<bool(const nlohmann::json& event)>& on_event);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace domian::cli
