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
constexpr size_t kMaxBulletinBytes = kMaxRevocationListBytes + kMaxRootChangeBytes + 64 * 1024;

// PEM documents one after the other, each ending in a newline.
std::string JoinPem(const std::vector<std::string>& documents) {
  std::string joined;
  for (const std::string& document : documents) {
    if (document.empty()) continue;
    joined += document;
    if (joined.back() != '\n') joined += '\n';
  }
  return joined;
}

// The credentials, kept up to date in `folder` (Credentials::folder).
std::optional<Credentials> KeptIn(std::optional<Credentials> credentials,
                                  const std::filesystem::path& folder) {
  if (credentials) credentials->folder = folder;
  return credentials;
}

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
                     const Clock& clock, std::function<int64_t()> now_unix,
                     std::function<void()> roots_dropped)
    : credentials_(KeptIn(std::move(credentials), folder)),
      folder_(std::move(folder)),
      now_unix_(now_unix),
      roots_dropped_(std::move(roots_dropped)),
      invites_(clock, std::move(now_unix)) {
  if (!credentials_) return;
  absl::MutexLock lock(&mu_);
  current_ = credentials_;
  // LoadCredentials checked them; a failure here is a programming error.
  if (absl::Status roots = SetRootsLocked(current_->roots_pem); !roots.ok()) {
    throw std::runtime_error(std::string(StatusMessage(roots)));
  }
  const std::string file = (folder_ / kBulletinFile).string();
  absl::StatusOr<std::string> stored = ReadBoundedFile(folder_ / kBulletinFile, kMaxBulletinBytes);
  v1::TrustBulletin bulletin;
  if (stored.ok() && bulletin.ParseFromString(*stored)) {
    // The change of CA first: the revocation list may be signed by the
    // new CA.
    if (bulletin.has_root_change()) {
      absl::StatusOr<RootChange> in_force = RootChangeInForce(
          bulletin.root_change(), *SplitBundle(current_->roots_pem), credentials_->self.cluster);
      if (in_force.ok()) {
        root_change_ = bulletin.root_change();
        root_number_ = in_force->number;
        rotating_ = !in_force->finished;
        cross_pem_ = rotating_ ? in_force->cross_cert_pem : std::string();
      } else {
        // The files are behind the record (a power cut between the two):
        // take it again, which rewrites them.
        bool dropped = false;  // nothing is connected yet
        MergeRootChangeLocked(bulletin.root_change(), file, &dropped);
      }
    }
    MergeRevocationsLocked(bulletin.revocations(), file);
    invites_.Merge(bulletin.invites());
    invites_.Prune();
  } else if (stored.ok() || !absl::IsNotFound(stored.status())) {
    spdlog::warn("{}: not a trust bulletin this node can read; starting from none (peers tell "
                 "it again)",
                 file);
  }
  // chain.pem follows the other files (it did not exist before changes
  // of CA did).
  if (absl::Status written = WriteFilesLocked(); !written.ok()) {
    spdlog::error("{}", StatusMessage(written));
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

absl::Status TrustBook::SetRootsLocked(std::string roots_pem) {
  absl::StatusOr<std::shared_ptr<const RootSet>> roots = RootSet::Parse(roots_pem);
  if (!roots.ok()) return roots.status();
  current_->roots_pem = std::move(roots_pem);
  roots_ = *std::move(roots);
  ++roots_generation_;
  verified_.clear();
  return absl::OkStatus();
}

std::optional<Credentials> TrustBook::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<Caller> TrustBook::Identify(std::string_view leaf_pem) {
  if (!credentials_) return Caller{.kind = Caller::Kind::kPlaintext};
  if (leaf_pem.empty()) return absl::UnauthenticatedError("no client certificate");
  std::optional<PeerCertificate> known;
  std::shared_ptr<const RootSet> roots;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = verified_.find(leaf_pem); it != verified_.end()) known = it->second;
    roots = roots_;
    generation = roots_generation_;
  }
  if (!known) {
    absl::StatusOr<PeerCertificate> verified = roots->Verify(leaf_pem, credentials_->self.cluster);
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
    // Verified with roots that were replaced meanwhile: answered, not
    // remembered.
    if (generation == roots_generation_) {
      if (verified_.size() >= kMaxVerifiedCertificates) verified_.clear();
      verified_.emplace(std::string(leaf_pem), *known);
    }
  }
  if (IsRevoked(known->subject)) {
    return absl::PermissionDeniedError(Describe(known->subject) +
                                       " was removed from the cluster");
  }
  return Caller{.kind = Caller::Kind::kCertified, .subject = known->subject};
}

absl::StatusOr<std::string> TrustBook::CaOf(std::string_view leaf_pem) const {
  if (!credentials_) return absl::FailedPreconditionError("a plaintext node trusts no CA");
  std::shared_ptr<const RootSet> roots;
  {
    absl::MutexLock lock(&mu_);
    roots = roots_;
  }
  absl::StatusOr<PeerCertificate> verified = roots->Verify(leaf_pem, credentials_->self.cluster);
  if (!verified.ok()) return verified.status();
  return verified->issuer_fingerprint;
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
  const std::optional<Credentials> current = Current();
  if (!current || !current->authority) {
    return absl::FailedPreconditionError(
        current ? "this node does not hold the cluster's CA key; invite from another member"
                : "a plaintext node cannot invite: enrol it first (domianctl cluster init)");
  }
  // The code pins the newest CA: members present certificates of it.
  absl::StatusOr<std::string> fingerprint = Fingerprint(current->authority->cert_pem);
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
  const std::optional<Credentials> current = Current();
  if (!current || !current->authority) {
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
  absl::StatusOr<std::string> issued = Issue(*current->authority, request.csr_pem(), subject);
  if (!issued.ok()) return issued.status();
  v1::JoinResponse response;
  response.set_cluster(subject.cluster);
  response.set_certificate_pem(*std::move(issued));
  response.set_roots_pem(current->roots_pem);
  if (role == Role::kNode) response.set_ca_key_pem(current->authority->key_pem);
  *response.mutable_bulletin() = Bulletin();  // with the invitation used
  // An operator never gets a CA's key.
  if (role != Role::kNode && response.bulletin().has_root_change()) {
    *response.mutable_bulletin()->mutable_root_change() =
        WithoutKey(response.bulletin().root_change());
  }
  spdlog::info("admitted {} (invitation {})", Describe(subject), request.invite_id());
  return response;
}

absl::StatusOr<uint64_t> TrustBook::Remove(Role role, const std::string& name) {
  if (!credentials_ || !Current()->authority) {
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
      revocations_.With(subject, now_unix_(), *current_->authority);
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
  if (root_change_) *bulletin.mutable_root_change() = *root_change_;
  return bulletin;
}

void TrustBook::Merge(const v1::TrustBulletin& bulletin, std::string_view from) {
  if (!credentials_) return;
  bool dropped = false;
  {
    absl::MutexLock lock(&mu_);
    bool changed = false;
    // The change of CA first: the revocation list may be signed by the
    // new CA.
    if (bulletin.has_root_change()) {
      changed |= MergeRootChangeLocked(bulletin.root_change(), from, &dropped);
    }
    if (bulletin.has_revocations()) changed |= MergeRevocationsLocked(bulletin.revocations(), from);
    changed |= invites_.Merge(bulletin.invites());
    if (changed) ChangedLocked();
  }
  if (dropped && roots_dropped_) roots_dropped_();
}

bool TrustBook::MergeRevocationsLocked(const v1::SignedRevocationList& signed_list,
                                       std::string_view from) {
  if (signed_list.body().empty()) return false;
  absl::StatusOr<Revocations> theirs =
      Revocations::FromSigned(signed_list, *roots_, credentials_->self.cluster);
  if (!theirs.ok()) {
    // Once per list: a removed node is sent the list at every refusal,
    // signed by a CA it may no longer know (a change of CA).
    if (refused_list_ == signed_list.body()) return false;
    refused_list_ = signed_list.body();
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
  absl::MutexLock lock(&mu_);
  status.ca_fingerprint = roots_->fingerprints().front();
  status.roots = roots_->fingerprints();
  status.rotating = rotating_;
  status.root_change_number = root_number_;
  if (absl::StatusOr<PeerCertificate> self = roots_->Verify(current_->cert_pem, credentials_->self.cluster);
      self.ok()) {
    status.certificate_ca = self->issuer_fingerprint;
  }
  status.revocation_number = revocations_.number();
  status.revoked = revocations_.size();
  status.open_invites = invites_.OpenCount();
  return status;
}

RootState TrustBook::RootStateLocked() const {
  absl::StatusOr<std::vector<std::string>> roots = SplitBundle(current_->roots_pem);
  return {.roots_pem = roots.ok() ? *std::move(roots) : std::vector<std::string>{},
          .number = root_number_};
}

bool TrustBook::MergeRootChangeLocked(const v1::SignedRootChange& sent, std::string_view from,
                                      bool* dropped) {
  absl::StatusOr<std::vector<RootChange>> changes =
      RootChangesToTake(sent, RootStateLocked(), credentials_->self.cluster);
  if (!changes.ok()) {
    if (refused_change_ != sent.body()) {
      refused_change_ = sent.body();
      spdlog::warn("ignoring a change of CA from {}: {}", from, StatusMessage(changes.status()));
    }
    return false;
  }
  bool taken = false;
  for (const RootChange& change : *changes) {
    bool dropped_now = false;
    if (!TakeLocked(change, sent, &dropped_now)) break;
    *dropped |= dropped_now;
    taken = true;
    if (change.finished) {
      spdlog::warn("change of CA {} (from {}): CA {} alone is trusted now", change.number, from,
                   change.fingerprint);
    } else {
      spdlog::warn("change of CA {} (from {}): CA {} is trusted beside the old one, and this "
                   "node presents a certificate of it",
                   change.number, from, change.fingerprint);
    }
  }
  return taken;
}

absl::StatusOr<RootChange> TrustBook::TakeOwnLocked(const v1::SignedRootChange& made) {
  absl::StatusOr<std::vector<RootChange>> changes =
      RootChangesToTake(made, RootStateLocked(), credentials_->self.cluster);
  if (!changes.ok()) return changes.status();
  if (changes->size() != 1) return absl::InternalError("the change of CA made here is not news");
  bool dropped = false;
  if (!TakeLocked(changes->front(), made, &dropped)) {
    return absl::InternalError("cannot take the change of CA made here (see the log)");
  }
  return changes->front();
}

bool TrustBook::TakeLocked(const RootChange& change, const v1::SignedRootChange& sent,
                           bool* dropped) {
  const RootState state = RootStateLocked();
  std::vector<std::string> roots = {change.next.cert_pem};
  if (!change.finished) roots.push_back(state.roots_pem.front());  // the CA it replaces
  *dropped = state.roots_pem.size() > roots.size();

  // This node's certificate of the new CA: same identity, same key.
  std::string cert_pem = current_->cert_pem;
  absl::StatusOr<std::shared_ptr<const RootSet>> next_root = RootSet::Parse(change.next.cert_pem);
  if (!next_root.ok()) return false;
  if (!(*next_root)->Verify(cert_pem, credentials_->self.cluster).ok()) {
    absl::StatusOr<std::string> csr = NewCsr(current_->key_pem, credentials_->self);
    absl::StatusOr<std::string> issued =
        csr.ok() ? Issue(change.next, *csr, credentials_->self) : csr.status();
    if (!issued.ok()) {
      spdlog::error("cannot take change of CA {}: no certificate of the new CA: {}",
                    change.number, StatusMessage(issued.status()));
      return false;
    }
    cert_pem = *std::move(issued);
  }

  // The record first: a power cut before the files are all written
  // leaves a node that takes it again at its next start.
  root_number_ = change.number;
  rotating_ = !change.finished;
  cross_pem_ = rotating_ ? change.cross_cert_pem : std::string();
  if (!change.finished && sent.has_started()) {
    // The start a finish carried, taken first: recorded as a start.
    v1::SignedRootChange start = sent.started();
    start.set_ca_key_pem(sent.ca_key_pem());
    root_change_ = std::move(start);
  } else {
    root_change_ = sent;
  }
  ChangedLocked();

  current_->cert_pem = std::move(cert_pem);
  current_->authority = change.next;
  if (absl::Status set = SetRootsLocked(JoinPem(roots)); !set.ok()) {
    spdlog::error("cannot take change of CA {}: {}", change.number, StatusMessage(set));
    return false;
  }
  if (absl::Status written = WriteFilesLocked(); !written.ok()) {
    spdlog::error("change of CA {}: {}", change.number, StatusMessage(written));
  }
  return true;
}

absl::Status TrustBook::WriteFilesLocked() {
  const std::string first_root = SplitBundle(current_->roots_pem)->front();
  struct File {
    const char* name;
    std::string content;
    mode_t mode;
  };
  // Roots before the certificate and the CA key, so that at every point
  // the key is of a root and the certificate verifies (LoadCredentials).
  std::vector<File> files = {{kRootsFile, current_->roots_pem, 0644},
                             {kCertFile, current_->cert_pem, 0644}};
  if (current_->authority) files.push_back({kAuthorityKeyFile, current_->authority->key_pem, 0600});
  // What the node presents: its certificate, then (during a change) the
  // new CA certified by the old, then its CA, for a joiner to check the
  // code's pin. In this order: OpenSSL takes the first issuer it finds
  // in the chain, and the cross certificate must come before the
  // self-signed CA for a peer that trusts only the old one.
  files.push_back({kChainFile, JoinPem({current_->cert_pem, cross_pem_, first_root}), 0644});
  for (const File& file : files) {
    absl::StatusOr<std::string> on_disk = ReadBoundedFile(folder_ / file.name, kMaxPemBytes * 4);
    if (on_disk.ok() && *on_disk == file.content) continue;
    if (absl::Status written = WriteOwnedFile(folder_ / file.name, file.content, file.mode);
        !written.ok()) {
      return written;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RotationStep> TrustBook::StartRotation() {
  if (!credentials_) {
    return absl::FailedPreconditionError("a plaintext node has no CA to change");
  }
  absl::MutexLock lock(&mu_);
  if (!current_->authority) {
    return absl::FailedPreconditionError(
        "this node does not hold the cluster's CA key; start the change on another member");
  }
  if (rotating_) {
    return absl::FailedPreconditionError(
        "a change of CA is under way already (to CA " + roots_->fingerprints().front() +
        "): finish it first with `domianctl cluster rotate-ca --finish`");
  }
  absl::StatusOr<Authority> next = NewAuthority(credentials_->self.cluster);
  if (!next.ok()) return next.status();
  absl::StatusOr<v1::SignedRootChange> start = MakeRootChangeStart(
      credentials_->self.cluster, root_number_ + 1, *current_->authority, *next);
  if (!start.ok()) return start.status();
  absl::StatusOr<RootChange> taken = TakeOwnLocked(*start);
  if (!taken.ok()) return taken.status();
  // The list travels signed by the new CA, which every member trusts once
  // it took the change, and alone once the change is finished.
  absl::StatusOr<Revocations> resigned = revocations_.Resigned(*next);
  if (resigned.ok()) {
    revocations_ = *std::move(resigned);
    ChangedLocked();
  }
  spdlog::warn("started change of CA {}: CA {} is trusted beside {}, and this node presents a "
               "certificate of it",
               root_number_, taken->fingerprint, taken->previous_fingerprint);
  return RotationStep{root_number_, taken->fingerprint, false};
}

absl::StatusOr<RotationStep> TrustBook::FinishRotation() {
  if (!credentials_) return absl::FailedPreconditionError("a plaintext node has no CA to change");
  RotationStep step;
  {
    absl::MutexLock lock(&mu_);
    if (!rotating_ || !root_change_) {
      return absl::FailedPreconditionError(
          "no change of CA is under way: start one with `domianctl cluster rotate-ca`");
    }
    absl::StatusOr<v1::SignedRootChange> finish = MakeRootChangeFinish(
        credentials_->self.cluster, root_number_ + 1, *root_change_, *current_->authority);
    if (!finish.ok()) return finish.status();
    absl::StatusOr<RootChange> taken = TakeOwnLocked(*finish);
    if (!taken.ok()) return taken.status();
    // A list signed by the old CA (a removal made by a member that had
    // not taken the change yet) would no longer check out.
    if (!revocations_.SignedBy(current_->authority->cert_pem)) {
      absl::StatusOr<Revocations> resigned = revocations_.Resigned(*current_->authority);
      if (resigned.ok()) {
        revocations_ = *std::move(resigned);
        ChangedLocked();
      }
    }
    step = {root_number_, taken->fingerprint, true};
    spdlog::warn("finished change of CA {}: CA {} alone is trusted now", root_number_,
                 step.ca_fingerprint);
  }
  if (roots_dropped_) roots_dropped_();
  return step;
}

}  // namespace domian::trust
