#include "core/cli/enrol.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdlib>

#include "core/node/node.h"
#include "core/node/node_state.h"
#include "core/rpc/channels.h"
#include "core/rpc/transport_security.h"
#include "core/trust/join_code.h"
#include "core/trust/pki.h"
#include "core/trust/trust_book.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::cli {
namespace {

namespace fs = std::filesystem;

// A member admitting a joiner signs one certificate: quick, unless the
// member is busy or far.
constexpr std::chrono::milliseconds kMinJoinTimeout{10000};

// Checks a member's answer before anything is written: the certificate
// names exactly what was asked, its key is ours, it verifies under roots
// that hold the pinned CA, and a node got the key of that CA.
absl::Status CheckAdmission(const JoinTarget& target, const trust::JoinCode& code,
                            const std::string& key_pem, const v1::JoinResponse& response) {
  absl::StatusOr<std::shared_ptr<const trust::RootSet>> roots =
      trust::RootSet::Parse(response.roots_pem());
  if (!roots.ok()) return roots.status();
  if (!(*roots)->Contains(code.fingerprint)) {
    return absl::UnauthenticatedError("the member's roots do not hold the CA the code pins");
  }
  if (!target.cluster.empty() && response.cluster() != target.cluster) {
    return absl::FailedPreconditionError("the code is for cluster '" + response.cluster().substr(0, 64) +
                                         "', but this node's node.yaml says cluster '" +
                                         target.cluster + "'");
  }
  absl::StatusOr<trust::PeerCertificate> mine =
      (*roots)->Verify(response.certificate_pem(), response.cluster());
  if (!mine.ok()) return mine.status();
  const trust::Subject expected{response.cluster(), target.role, target.name};
  if (mine->subject != expected) {
    return absl::UnauthenticatedError("the member issued a certificate for " +
                                      trust::Describe(mine->subject) + ", not " +
                                      trust::Describe(expected));
  }
  absl::StatusOr<bool> ours = trust::KeyMatches(key_pem, response.certificate_pem());
  if (!ours.ok() || !*ours) {
    return absl::UnauthenticatedError("the certificate the member issued is not for this key");
  }
  if (target.role == trust::Role::kNode) {
    absl::StatusOr<bool> authority =
        trust::KeyMatches(response.ca_key_pem(), trust::SplitBundle(response.roots_pem())->front());
    if (!authority.ok() || !*authority) {
      return absl::UnauthenticatedError("the member sent no CA key, or not the CA's");
    }
  }
  return absl::OkStatus();
}

}  // namespace

fs::path OperatorCredentialsFolder() {
  if (const char* set = std::getenv("DOMIAN_CREDENTIALS"); set != nullptr && *set != '\0') {
    return set;
  }
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr && *home != '\0' ? home : "/root") / ".config" / "domian" /
         "credentials";
}

absl::StatusOr<JoinTarget> NodeJoinTarget(const config::NodeConfig& config) {
  JoinTarget target;
  target.role = trust::Role::kNode;
  target.cluster = config.cluster;
  target.folder = node::CredentialsFolder(config);
  if (config.id) {
    target.name = *config.id;
  } else {
    absl::StatusOr<node::NodeState> state = node::NodeState::Open(config.state_dir);
    if (!state.ok()) return state.status();
    absl::StatusOr<std::string> id = state->LoadOrCreateNodeId();
    if (!id.ok()) return id.status();
    // Made by root for the daemon's user (node.id unset, as in the
    // package's node.yaml): the daemon must be able to read it.
    trust::GiveToFolderOwner(config.state_dir / node::kNodeIdFile);
    target.name = *std::move(id);
  }
  return target;
}

absl::StatusOr<Enrolled> InitCluster(const config::NodeConfig& config) {
  absl::StatusOr<JoinTarget> target = NodeJoinTarget(config);
  if (!target.ok()) return target.status();
  std::error_code error;
  if (fs::exists(target->folder, error)) {
    return absl::AlreadyExistsError(target->folder.string() +
                                    " exists: this node already belongs to a cluster");
  }
  absl::StatusOr<trust::Authority> authority = trust::NewAuthority(config.cluster);
  if (!authority.ok()) return authority.status();
  const trust::Subject subject{config.cluster, trust::Role::kNode, target->name};
  absl::StatusOr<std::string> key = trust::NewPrivateKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> csr = trust::NewCsr(*key, subject);
  if (!csr.ok()) return csr.status();
  absl::StatusOr<std::string> cert = trust::Issue(*authority, *csr, subject);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> fingerprint = trust::Fingerprint(authority->cert_pem);
  if (!fingerprint.ok()) return fingerprint.status();
  trust::Credentials credentials{.self = subject,
                                 .roots_pem = authority->cert_pem,
                                 .cert_pem = *std::move(cert),
                                 .key_pem = *std::move(key),
                                 .authority = *authority};
  if (absl::Status saved = trust::SaveCredentials(target->folder, credentials); !saved.ok()) {
    return saved;
  }
  return Enrolled{subject, *fingerprint, target->folder, ""};
}

absl::StatusOr<Enrolled> JoinCluster(const JoinTarget& target, const std::string& code_text,
                                     std::chrono::milliseconds timeout) {
  absl::StatusOr<trust::JoinCode> code = trust::ParseJoinCode(code_text);
  if (!code.ok()) return code.status();
  std::error_code error;
  if (fs::exists(target.folder, error)) {
    return absl::AlreadyExistsError(target.folder.string() +
                                    " exists: this machine already has cluster credentials");
  }
  const trust::Subject asked{target.cluster, target.role, target.name};
  absl::StatusOr<std::string> key = trust::NewPrivateKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> csr = trust::NewCsr(*key, asked);
  if (!csr.ok()) return csr.status();
  absl::StatusOr<std::string> card = trust::NewInviteCard(*key, code->id);
  if (!card.ok()) return card.status();

  std::vector<std::string> members = target.via;
  for (const std::string& member : code->members) {
    if (std::find(members.begin(), members.end(), member) == members.end()) {
      members.push_back(member);
    }
  }
  v1::JoinRequest request;
  request.set_invite_id(code->id);
  request.set_secret(code->secret);
  request.set_name(target.name);
  request.set_csr_pem(*csr);
  std::string failures;
  for (const std::string& member : members) {
    rpc::PinnedServer pinned{.fingerprint = code->fingerprint,
                             .cluster = target.cluster,
                             .key_pem = *key,
                             .card_pem = *card};
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        rpc::PinnedCredentials(pinned);
    if (!credentials.ok()) return credentials.status();
    grpc::ChannelArguments args = rpc::DomainChannelArguments();
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = v1::Domain::NewStub(grpc::CreateCustomChannel(member, *credentials, args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::max(timeout, kMinJoinTimeout));
    v1::JoinResponse response;
    const grpc::Status status = stub->Join(&context, request, &response);
    if (!status.ok()) {
      std::string why = !pinned.refusal->empty() ? *pinned.refusal : status.error_message();
      // The member's CA was the pinned one, and then the member closed
      // the connection: its TLS door did not know the card's invitation.
      if (pinned.refusal->empty() && !pinned.roots_pem->empty() &&
          status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        why = "it closed the connection after TLS: it does not know the invitation (a mistyped "
              "code, one made on a member it has not heard from yet, or too many unknown codes "
              "tried there; try again in a minute)";
      }
      failures += (failures.empty() ? " " : "; ") + member + ": " + why;
      // The member answered: the code itself was refused (used, expired,
      // or not known there yet), or this machine is rate limited.
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) break;
      continue;
    }
    if (absl::Status checked = CheckAdmission(target, *code, *key, response); !checked.ok()) {
      failures += (failures.empty() ? " " : "; ") + member + ": " + std::string(StatusMessage(checked));
      continue;
    }
    trust::Credentials saved{
        .self = {response.cluster(), target.role, target.name},
        .roots_pem = response.roots_pem(),
        .cert_pem = response.certificate_pem(),
        .key_pem = *key,
    };
    if (target.role == trust::Role::kNode) {
      saved.authority = trust::Authority{trust::SplitBundle(response.roots_pem())->front(),
                                         response.ca_key_pem()};
    }
    if (absl::Status written = trust::SaveCredentials(target.folder, saved); !written.ok()) {
      return written;
    }
    // What the member knew of removals and invitations, so this node
    // refuses a removed node from its first call.
    std::string bulletin;
    response.bulletin().SerializeToString(&bulletin);
    if (absl::Status written =
            trust::WriteOwnedFile(target.folder / trust::kBulletinFile, bulletin, 0600);
        !written.ok()) {
      return written;
    }
    return Enrolled{saved.self, code->fingerprint, target.folder, member};
  }
  if (members.empty()) {
    return absl::InvalidArgumentError("the code names no member to ask; give one with --via");
  }
  return absl::UnavailableError("no member admitted this machine:" + failures);
}

}  // namespace domian::cli
