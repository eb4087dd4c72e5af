#include "core/rpc/transport_security.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <mutex>
#include <optional>

namespace domian::rpc {
namespace {

using grpc::experimental::CertificateProviderInterface;
using grpc::experimental::ExternalCertificateVerifier;
using grpc::experimental::FileWatcherCertificateProvider;
using grpc::experimental::IdentityKeyCertPair;
using grpc::experimental::StaticDataCertificateProvider;
using grpc::experimental::TlsCustomVerificationCheckRequest;

// The server's door, run by gRPC in the handshake, before the connection
// speaks HTTP/2: gRPC 1.51 holds a client to its stream limit only once
// the client acknowledged it (server_limits.h), so whoever gets past the
// handshake can make the server hold memory; only holders of this
// cluster's certificates and joiners with a known invitation do
// (TrustBook::Door). A refusal closes the connection with no words for
// the client; the log says why, at most once per kDoorLogInterval.
class DoorVerifier final : public ExternalCertificateVerifier {
 public:
  explicit DoorVerifier(Door door) : door_(std::move(door)) {}
  bool Verify(TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    const grpc::string_ref leaf = request->peer_cert();
    const absl::Status admitted = door_(std::string_view(leaf.data(), leaf.size()));
    if (admitted.ok()) {
      *sync_status = grpc::Status::OK;
      return true;
    }
    Log(admitted);
    *sync_status =
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(StatusMessage(admitted)));
    return true;
  }
  void Cancel(TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  void Log(const absl::Status& refusal) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    ++refused_;
    if (logged_at_ && now - *logged_at_ < kDoorLogInterval) return;
    spdlog::info("refused {} connection(s) in the TLS handshake; the last: {}", refused_,
                 StatusMessage(refusal));
    refused_ = 0;
    logged_at_ = now;
  }

  Door door_;
  std::mutex mutex_;
  size_t refused_ = 0;
  std::optional<std::chrono::steady_clock::time_point> logged_at_;
};

// After gRPC verified the chain under the roots: the one URI SAN must
// name a subject `check` accepts.
class SubjectVerifier final : public ExternalCertificateVerifier {
 public:
  explicit SubjectVerifier(ServerCheck check) : check_(std::move(check)) {}
  bool Verify(TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    *sync_status = Check(*request);
    return true;
  }
  void Cancel(TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  grpc::Status Check(const TlsCustomVerificationCheckRequest& request) const {
    const std::vector<grpc::string_ref> uris = request.uri_names();
    if (uris.size() != 1) {
      return {grpc::StatusCode::UNAUTHENTICATED,
              "the server's certificate names no single domian identity"};
    }
    absl::StatusOr<trust::Subject> subject =
        trust::ParseSubjectUri(std::string_view(uris.front().data(), uris.front().size()));
    if (!subject.ok()) {
      return {grpc::StatusCode::UNAUTHENTICATED, std::string(StatusMessage(subject.status()))};
    }
    const absl::Status accepted = check_(*subject);
    if (!accepted.ok()) {
      return {static_cast<grpc::StatusCode>(accepted.code()), std::string(StatusMessage(accepted))};
    }
    return grpc::Status::OK;
  }

  ServerCheck check_;
};

// A joiner's check of a server it has no roots for yet: the chain must
// hold the pinned CA, which must have signed the server's certificate.
class PinnedVerifier final : public ExternalCertificateVerifier {
 public:
  explicit PinnedVerifier(PinnedServer pinned) : pinned_(std::move(pinned)) {}
  bool Verify(TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    const absl::Status checked = Check(*request);
    if (!checked.ok()) *pinned_.refusal = std::string(StatusMessage(checked));
    *sync_status = checked.ok() ? grpc::Status::OK
                                : grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                               std::string(StatusMessage(checked)));
    return true;
  }
  void Cancel(TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  absl::Status Check(const TlsCustomVerificationCheckRequest& request) const {
    const grpc::string_ref chain_ref = request.peer_cert_full_chain();
    const grpc::string_ref leaf_ref = request.peer_cert();
    const std::string_view chain(chain_ref.data(), chain_ref.size());
    const std::string_view leaf(leaf_ref.data(), leaf_ref.size());
    if (chain.size() > 4 * trust::kMaxPemBytes) {
      return absl::UnauthenticatedError("the member's certificate chain is too long");
    }
    absl::StatusOr<std::vector<std::string>> certificates = trust::SplitBundle(chain);
    if (!certificates.ok()) {
      return absl::UnauthenticatedError("the member presents no readable certificate chain");
    }
    std::vector<std::string> seen;
    for (const std::string& certificate : *certificates) {
      absl::StatusOr<std::string> fingerprint = trust::Fingerprint(certificate);
      if (!fingerprint.ok()) continue;
      if (*fingerprint != pinned_.fingerprint) {
        seen.push_back(*fingerprint);
        continue;
      }
      absl::StatusOr<std::shared_ptr<const trust::RootSet>> roots =
          trust::RootSet::Parse(certificate);
      // The pinned CA certified by the CA it replaces (a member during a
      // change of CA, trust/rotation.h): the self-signed one follows.
      if (!roots.ok()) continue;
      // An operator joining from a laptop has no node.yaml to name the
      // cluster: the pinned CA's is the one.
      absl::StatusOr<trust::PeerCertificate> server =
          pinned_.cluster.empty() ? (*roots)->VerifyAnyCluster(leaf)
                                  : (*roots)->Verify(leaf, pinned_.cluster);
      if (!server.ok()) return server.status();
      if (server->subject.role != trust::Role::kNode) {
        return absl::UnauthenticatedError("the member presents an operator's certificate");
      }
      *pinned_.roots_pem = certificate;
      return absl::OkStatus();
    }
    std::string message = "the member presents a certificate of another CA (";
    message += seen.empty() ? std::string("none in its chain") : "fingerprint " + seen.front();
    message += "), not the one the join code pins (" + pinned_.fingerprint +
               "): not sending the code to it";
    return absl::UnauthenticatedError(message);
  }

  PinnedServer pinned_;
};

// gRPC 1.51 wants root certificates on a client even when its own
// verification is off and a custom verifier decides (grpc/grpc#29667): a
// throwaway CA nobody holds the key of serves.
const std::string& UnusedRoots() {
  static const std::string roots = [] {
    absl::StatusOr<trust::Authority> authority = trust::NewAuthority("unused");
    return authority.ok() ? authority->cert_pem : std::string();
  }();
  return roots;
}

// How often gRPC reads a node's credential files again. A change of CA
// reaches every member within a few heartbeats; this adds at most that
// much before new connections carry the new certificate, for three small
// reads per provider (two per node: server and client) per interval.
constexpr unsigned kCertificateRefreshSeconds = 2;

// What a holder presents, and the roots it checks servers with.
//
// A node (credentials its TrustBook keeps in a folder): gRPC 1.51's
// FileWatcherCertificateProvider on the folder's files (trust/
// credentials.h), which it reads again every kCertificateRefreshSeconds;
// new handshakes then use what changed, so a change of CA (trust/
// rotation.h) needs no restart. gRPC 1.51 has no public provider that
// takes new certificates from memory. The files are renamed into place
// whole, and the key stays the same across a change, so a read never
// pairs a key with another key's certificate. The node presents chain.pem:
// its certificate followed by its CA (and, during a change, the new CA
// certified by the old one).
//
// Anyone else (domianctl, credentials made in memory): the certificate as
// given, followed by the first root when `with_ca`.
std::shared_ptr<CertificateProviderInterface> PresentedCertificates(
    const trust::Credentials& credentials, bool with_ca) {
  std::error_code error;
  if (!credentials.folder.empty() &&
      std::filesystem::exists(credentials.folder / trust::kChainFile, error)) {
    return std::make_shared<FileWatcherCertificateProvider>(
        (credentials.folder / trust::kKeyFile).string(),
        (credentials.folder / trust::kChainFile).string(),
        (credentials.folder / trust::kRootsFile).string(), kCertificateRefreshSeconds);
  }
  std::string chain = credentials.cert_pem;
  if (with_ca) chain += "\n" + trust::SplitBundle(credentials.roots_pem)->front();
  return std::make_shared<StaticDataCertificateProvider>(
      credentials.roots_pem, std::vector<IdentityKeyCertPair>{{credentials.key_pem, chain}});
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(trust::TrustBook& book) {
  const trust::Credentials* credentials = book.credentials();
  if (credentials == nullptr) return grpc::InsecureServerCredentials();
  return ServerCredentials(*credentials,
                           [&book](std::string_view leaf_pem) { return book.Door(leaf_pem); });
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const trust::Credentials& given,
                                                           Door door) {
  const trust::Credentials* credentials = &given;
  // The CA follows the node's certificate: a joiner checks it against the
  // join code's pin before it trusts this server with the code.
  auto provider = PresentedCertificates(*credentials, /*with_ca=*/true);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  // Not to verify with (the door does, and NodeService per call): gRPC
  // wants roots on a server that asks for client certificates, and names
  // them to clients. OpenSSL's own check would refuse a joiner's card.
  options.watch_root_certs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  if (door) {
    options.set_certificate_verifier(
        ExternalCertificateVerifier::Create<DoorVerifier>(std::move(door)));
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const trust::Credentials& credentials,
                                                            ServerCheck check) {
  auto provider = PresentedCertificates(credentials, /*with_ca=*/false);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      ExternalCertificateVerifier::Create<SubjectVerifier>(std::move(check)));
  return grpc::experimental::TlsCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> NodeClientCredentials(trust::TrustBook& book) {
  const trust::Credentials* credentials = book.credentials();
  if (credentials == nullptr) return grpc::InsecureChannelCredentials();
  return ClientCredentials(*credentials,
                           [&book](const trust::Subject& subject) { return book.CheckServer(subject); });
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> PinnedCredentials(
    const PinnedServer& pinned) {
  if (UnusedRoots().empty()) return absl::InternalError("cannot make a TLS client");
  if (pinned.key_pem.empty() || pinned.card_pem.empty()) {
    return absl::InvalidArgumentError("a joiner needs its key and card to knock with");
  }
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(std::make_shared<StaticDataCertificateProvider>(
      UnusedRoots(), std::vector<IdentityKeyCertPair>{{pinned.key_pem, pinned.card_pem}}));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      ExternalCertificateVerifier::Create<PinnedVerifier>(pinned));
  return grpc::experimental::TlsCredentials(options);
}

absl::StatusOr<trust::Caller> IdentifyCaller(const grpc::ServerContext& context,
                                             trust::TrustBook& book) {
  // The control socket is the one port without TLS on a secure node.
  if (context.peer().rfind("unix:", 0) == 0) return trust::Caller{.kind = trust::Caller::Kind::kLocal};
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  const std::vector<grpc::string_ref> security =
      auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  // "tls" from the TLS credentials this file makes, "ssl" from gRPC's
  // older SSL credentials.
  const bool tls = !security.empty() && (security.front() == "tls" ||
                                         security.front() == GRPC_SSL_TRANSPORT_SECURITY_TYPE);
  // A call over the server's own in-process channel (the dashboard's API,
  // core/web): only this process can make one, from the grpc::Server
  // object. A network caller has an address for a peer, and TLS on a
  // secure node.
  if (!tls && context.peer() == kInProcessPeer) {
    return trust::Caller{.kind = trust::Caller::Kind::kLocal};
  }
  if (!tls) {
    if (book.secure()) return absl::UnauthenticatedError("this node takes only TLS connections");
    return trust::Caller{.kind = trust::Caller::Kind::kPlaintext};
  }
  const std::vector<grpc::string_ref> pem = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pem.empty()) return book.Identify("");
  return book.Identify(std::string_view(pem.front().data(), pem.front().size()));
}

std::optional<trust::Subject> ServerSubject(const grpc::ClientContext& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth) return std::nullopt;
  const std::vector<grpc::string_ref> uris = auth->FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME);
  if (uris.size() != 1) return std::nullopt;
  absl::StatusOr<trust::Subject> subject =
      trust::ParseSubjectUri(std::string_view(uris.front().data(), uris.front().size()));
  if (!subject.ok()) return std::nullopt;
  return *subject;
}

}  // namespace domian::rpc
