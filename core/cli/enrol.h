// Enrolment from the command line: `domianctl cluster init` and
// `cluster join` work on this machine's files, with no daemon involved
// (a node without credentials refuses every call, and waits for them):
//
//   init  makes the cluster's CA and this node's certificate in
//         <state_dir>/tls (node.yaml names the folder, cluster and id).
//   join  reads a join code, finds a member from the code's list (or
//         --via, or node.yaml's seeds), checks that the member presents a
//         certificate of the CA the code pins, and only then sends the
//         code's secret with a certificate request; the key never leaves
//         this machine. A node gets its certificate, the roots and the CA
//         key; an operator (--operator NAME) its certificate and the
//         roots, kept in its credentials folder.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/common/status.h"
#include "core/config/node_config.h"
#include "core/trust/credentials.h"

namespace domian::cli {

// Where domianctl keeps an operator's credentials: $DOMIAN_CREDENTIALS,
// else ~/.config/domian/credentials.
std::filesystem::path OperatorCredentialsFolder();

struct Enrolled {
  trust::Subject subject;
  std::string ca_fingerprint;
  std::filesystem::path folder;
  std::string admitted_by;  // the member's address (join only)
};

// `cluster init` for the node `config` describes.
absl::StatusOr<Enrolled> InitCluster(const config::NodeConfig& config);

struct JoinTarget {
  trust::Role role = trust::Role::kNode;
  std::string name;                 // node id, or the operator's name
  std::string cluster;              // expected; empty for an operator: the CA's
  std::filesystem::path folder;     // where the credentials go
  std::vector<std::string> via;     // members to try before the code's
};

// The JoinTarget of the node `config` describes (its id read or made in
// its state folder).
absl::StatusOr<JoinTarget> NodeJoinTarget(const config::NodeConfig& config);

// `cluster join`: `code_text` as the operator typed it. Every member tried
// and why it failed is in the error when none admitted this machine.
absl::StatusOr<Enrolled> JoinCluster(const JoinTarget& target, const std::string& code_text,
                                     std::chrono::milliseconds timeout);

}  // namespace domian::cli
