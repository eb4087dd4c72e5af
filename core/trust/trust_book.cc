#include "core/trust/trust_book.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "core/model/values.h"

namespace domian::trust {
namespace {

// The bulletin file may hold at most what a peer may send.
constexpr size_t kMaxBulletinBytes = kMaxRevocationListBytes + 64 * 1024;

uint64_t DigestOf(const v1::TrustBulletin& bulletin) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  {
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    bulletin.SerializeToCodedStream(&coded);
  }
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), hash, &length, EVP_sha256(), nullptr);
  uint64_t digest = 0;
  std::memcpy(&digest, hash, sizeof digest);
  // 0 means "no bulletin" on the wire (a plaintext node).
  return digest == 0 ? 1 : digest;
}

}  // namespace

TrustBook::TrustBook(std::optional<Credentials> credentials, std::filesystem::path folder,
                     const Clock& clock, std::function<int64_t()> now_unix)
    : credentials_(std::move(credentials)),
      folder_(std::move(folder)),
      now_unix_(now_unix),
      invites_(clock, std::move(now_unix)) {
  if (!credentials_) return;
  absl::StatusOr<std::shared_ptr<const RootSet>> roots = RootSet::Parse(credentials_->roots_pem);
  // LoadCredentials checked them; a failure here is a programming error.
  if (!roots.ok()) throw std::runtime_error(std::string(StatusMessage(roots.status())));
  roots_ = *std::move(roots);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> stored = ReadBoundedFile(folder_ / kBulletinFile, kMaxBulletinBytes);
  v1::TrustBulletin bulletin;
  if (stored.ok() && bulletin.ParseFromString(*stored)) {
    MergeRevocationsLocked(bulletin.revocations(), (folder_ / kBulletinFile).string());
    invites_.Merge(bulletin.invites());
    invites_.Prune();
  } else if (stored.ok() || !absl::IsNotFound(stored.status())) {
    spdlog::warn("{}: not a trust bulletin this node can read; starting from none (peers tell "
                 "it again)",
                 (folder_ / kBulletinFile).string());
  }
  digest_ = DigestOf(BulletinLocked());
}

absl::Status TrustBook::Door(std::string_view leaf_pem) {
  if (!credentials_) return absl::OkStatus();
  absl::StatusOr<Caller> caller = Identify(leaf_pem);
  if (caller.ok() && caller->kind == Caller::Kind::kJoiner) {
    absl::MutexLock lock(&mu_);
    absl::Status known = invites_.Knock(caller->invite_id);
    if (!known.ok()) {
      return absl::Status(known.code(), "a joiner's card: " + std::string(known.message()));
    }
    return absl::OkStatus();
  }
  if (caller.ok() || absl::IsPermissionDenied(caller.status())) return absl::OkStatus();
  return caller.status();
}

absl::StatusOr<Caller> TrustBook::Identify(std::string_view leaf_pem) {
  if (!credentials_) return Caller{.kind = Caller::Kind::kPlaintext};
  if (leaf_pem.empty()) return absl::UnauthenticatedError("no client certificate");
  std::optional<PeerCertificate> known;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = verified_.find(leaf_pem); it != verified_.end()) known = it->second;
  }
  if (!known) {
    absl::StatusOr<PeerCertificate> verified = roots_->Verify(leaf_pem, credentials_->self.cluster);
    if (!verified.ok()) {
      // Not this cluster's: a joiner's card, or a refusal saying why the
      // certificate is not of this cluster.
      absl::StatusOr<InviteCard> card = ReadInviteCard(leaf_pem);
      if (!card.ok()) return verified.status();
      return Caller{.kind = Caller::Kind::kJoiner,
                    .invite_id = card->invite_id,
                    .key_fingerprint = card->key_fingerprint};
    }
    known = *verified;
    absl::MutexLock lock(&mu_);
    if (verified_.size() >= kMaxVerifiedCertificates) verified_.clear();
    verified_.emplace(std::string(leaf_pem), *known);
  }
  if (IsRevoked(known->subject)) {
    return absl::PermissionDeniedError(Describe(known->subject) +
                                       " was removed from the cluster");
  }
  return Caller{.kind = Caller::Kind::kCertified, .subject = known->subject};
}

absl::Status TrustBook::CheckServer(const Subject& subject) const {
  if (!credentials_) return absl::OkStatus();
  if (subject.cluster != credentials_->self.cluster) {
    return absl::UnauthenticatedError("the server is " + Describe(subject) + ", not of cluster " +
                                      credentials_->self.cluster);
  }
  if (subject.role != Role::kNode) {
    return absl::UnauthenticatedError("the server presents an operator's certificate (" +
                                      subject.name + "), not a node's");
  }
  if (IsRevoked(subject)) {
    return absl::PermissionDeniedError("the server is " + Describe(subject) +
                                       ", removed from the cluster");
  }
  return absl::OkStatus();
}

bool TrustBook::IsRevoked(const Subject& subject) const {
  absl::MutexLock lock(&mu_);
  return revocations_.IsRevoked(subject);
}

absl::StatusOr<std::pair<std::string, int64_t>> TrustBook::Invite(
    Role role, std::chrono::seconds ttl, std::vector<std::string> members) {
  if (!credentials_ || !credentials_->authority) {
    return absl::FailedPreconditionError(
        credentials_ ? "this node does not hold the cluster's CA key; invite from another member"
                     : "a plaintext node cannot invite: enrol it first (domianctl cluster init)");
  }
  absl::StatusOr<std::string> fingerprint = Fingerprint(credentials_->authority->cert_pem);
  if (!fingerprint.ok()) return fingerprint.status();
  if (members.size() > kMaxCodeMembers) members.resize(kMaxCodeMembers);
  absl::MutexLock lock(&mu_);
  absl::StatusOr<InviteBook::Made> made = invites_.Create(role, ttl);
  if (!made.ok()) return made.status();
  ChangedLocked();
  const std::string code = FormatJoinCode(
      {.id = made->id, .secret = made->secret, .fingerprint = *fingerprint, .members = members});
  return std::make_pair(code, made->expires_unix);
}

absl::StatusOr<v1::JoinResponse> TrustBook::Admit(const v1::JoinRequest& request,
                                                   const Caller& caller) {
  if (!credentials_ || !credentials_->authority) {
    return absl::FailedPreconditionError(
        "this node cannot admit joiners (it holds no CA key); try another member");
  }
  if (!IsValidNodeId(request.name())) {
    return absl::InvalidArgumentError("not a valid name to join as (1-64 of A-Z a-z 0-9 . _ -)");
  }
  if (request.csr_pem().size() > kMaxPemBytes) {
    return absl::InvalidArgumentError("the certificate request is larger than " +
                                      std::to_string(kMaxPemBytes) + " bytes");
  }
  if (caller.kind == Caller::Kind::kJoiner) {
    // The connection was let in for this invitation and this key: a card
    // is no ticket for another code, nor a certificate for another key.
    if (request.invite_id() != caller.invite_id) {
      return absl::PermissionDeniedError(
          "the join request names another invitation than the connection's card");
    }
    absl::StatusOr<std::string> asked = CsrKeyFingerprint(request.csr_pem());
    if (!asked.ok()) return absl::InvalidArgumentError(std::string(asked.status().message()));
    if (*asked != caller.key_fingerprint) {
      return absl::PermissionDeniedError(
          "the certificate request is for another key than the connection's card");
    }
  }
  Role role = Role::kNode;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<Role> redeemed = invites_.Redeem(request.invite_id(), request.secret());
    if (!redeemed.ok()) return redeemed.status();
    role = *redeemed;
    ChangedLocked();  // the invitation is used, here and soon everywhere
  }
  const Subject subject{credentials_->self.cluster, role, request.name()};
  if (IsRevoked(subject)) {
    return absl::PermissionDeniedError(Describe(subject) +
                                       " was removed from this cluster; join under another name");
  }
  absl::StatusOr<std::string> issued = Issue(*credentials_->authority, request.csr_pem(), subject);
  if (!issued.ok()) return issued.status();
  v1::JoinResponse response;
  response.set_cluster(subject.cluster);
  response.set_certificate_pem(*std::move(issued));
  response.set_roots_pem(credentials_->roots_pem);
  if (role == Role::kNode) response.set_ca_key_pem(credentials_->authority->key_pem);
  *response.mutable_bulletin() = Bulletin();  // with the invitation used
  spdlog::info("admitted {} (invitation {})", Describe(subject), request.invite_id());
  return response;
}

absl::StatusOr<uint64_t> TrustBook::Remove(Role role, const std::string& name) {
  if (!credentials_ || !credentials_->authority) {
    return absl::FailedPreconditionError(
        credentials_ ? "this node does not hold the cluster's CA key; remove from another member"
                     : "a plaintext node has no certificates to revoke");
  }
  if (!IsValidNodeId(name)) {
    return absl::InvalidArgumentError("not a valid node or operator name");
  }
  const Subject subject{credentials_->self.cluster, role, name};
  if (subject == credentials_->self) {
    return absl::InvalidArgumentError("a node cannot remove itself; remove it from another member");
  }
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Revocations> next =
      revocations_.With(subject, now_unix_(), *credentials_->authority);
  if (!next.ok()) return next.status();
  revocations_ = *std::move(next);
  ChangedLocked();
  spdlog::warn("removed {} from the cluster (revocation list {})", Describe(subject),
               revocations_.number());
  return revocations_.number();
}

uint64_t TrustBook::Digest() const {
  absl::MutexLock lock(&mu_);
  return digest_;
}

v1::TrustBulletin TrustBook::Bulletin() const {
  if (!credentials_) return {};
  absl::MutexLock lock(&mu_);
  return BulletinLocked();
}

v1::TrustBulletin TrustBook::BulletinLocked() const {
  v1::TrustBulletin bulletin;
  if (revocations_.number() > 0) *bulletin.mutable_revocations() = revocations_.signed_list();
  *bulletin.mutable_invites() = invites_.Snapshot();
  return bulletin;
}

void TrustBook::Merge(const v1::TrustBulletin& bulletin, std::string_view from) {
  if (!credentials_) return;
  absl::MutexLock lock(&mu_);
  bool changed = false;
  if (bulletin.has_revocations()) changed |= MergeRevocationsLocked(bulletin.revocations(), from);
  changed |= invites_.Merge(bulletin.invites());
  if (changed) ChangedLocked();
}

bool TrustBook::MergeRevocationsLocked(const v1::SignedRevocationList& signed_list,
                                       std::string_view from) {
  if (signed_list.body().empty()) return false;
  absl::StatusOr<Revocations> theirs =
      Revocations::FromSigned(signed_list, *roots_, credentials_->self.cluster);
  if (!theirs.ok()) {
    spdlog::warn("ignoring a revocation list from {}: {}", from, StatusMessage(theirs.status()));
    return false;
  }
  if (theirs->number() <= revocations_.number()) return false;
  for (const v1::Revoked& revoked : theirs->list().revoked()) {
    absl::StatusOr<Role> role = ParseRole(revoked.role());
    if (role.ok() && !revocations_.IsRevoked({credentials_->self.cluster, *role, revoked.name()})) {
      spdlog::warn("{} {} was removed from the cluster (revocation list {}, from {})",
                   revoked.role(), revoked.name(), theirs->number(), from);
    }
  }
  revocations_ = *std::move(theirs);
  if (revocations_.IsRevoked(credentials_->self)) {
    // Every member refuses this node from now on; it keeps running only
    // so that its owner can see why.
    spdlog::critical("this node ({}) was removed from the cluster: every member refuses it. "
                     "To join again, move {} away and run domianctl cluster join with a new "
                     "node id",
                     Describe(credentials_->self), folder_.string());
  }
  return true;
}

void TrustBook::ChangedLocked() {
  invites_.Prune();
  const v1::TrustBulletin bulletin = BulletinLocked();
  digest_ = DigestOf(bulletin);
  std::string bytes;
  bulletin.SerializeToString(&bytes);
  if (absl::Status saved = WriteOwnedFile(folder_ / kBulletinFile, bytes, 0600);
      !saved.ok()) {
    spdlog::error("{}", StatusMessage(saved));
  }
}

TrustStatus TrustBook::Status() const {
  TrustStatus status;
  if (!credentials_) return status;
  status.secure = true;
  status.ca_fingerprint = roots_->fingerprints().front();
  absl::MutexLock lock(&mu_);
  status.revocation_number = revocations_.number();
  status.revoked = revocations_.size();
  status.open_invites = invites_.OpenCount();
  return status;
}

}  // namespace domian::trust
