// TrustBook: what this node knows about who may talk to the cluster, and
// the one owner of it: its credentials, the roots it trusts, the
// revocation list, the open invitations, the last change of CA. The RPC
// layer asks it who a caller is (Identify, per call, so a removal holds
// on connections already open), spreads its bulletin with the heartbeats
// (Digest, Bulletin, Merge), and hands it the enrolment calls (Invite,
// Admit, Remove) and the changes of CA (StartRotation, FinishRotation;
// see rotation.h).
//
// A change of CA rewrites the credentials' files (roots, certificate, CA
// key, the chain the node presents), each atomically, after the bulletin
// that records it: gRPC reads them again by itself (FileWatcher in
// rpc/transport_security.cc), and a node cut off by a power cut in
// between finishes the change when it starts (the bulletin says what the
// files must be).
//
// Threads: any; one mutex guards everything, held for lookups, merges
// and a change of CA (rare: a few small files written); a certificate's
// first verification runs outside it and is cached by the certificate's
// text, until the roots change.
//
// Without credentials (node.plaintext, for development only) every caller
// is a plaintext caller, the bulletin is empty and enrolment is refused.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/trust/access.h"
#include "core/trust/credentials.h"
#include "core/trust/invite_book.h"
#include "core/trust/pki.h"
#include "core/trust/revocations.h"
#include "core/trust/rotation.h"
#include "domian/v1/trust.pb.h"

namespace domian::trust {

inline constexpr char kBulletinFile[] = "bulletin.pb";
// Verified certificates remembered (a household has a few nodes and
// operators; a flood of distinct certificates only empties the cache).
inline constexpr size_t kMaxVerifiedCertificates = 256;

struct TrustStatus {
  bool secure = false;
  std::string ca_fingerprint;  // the newest root
  uint64_t revocation_number = 0;
  size_t revoked = 0;
  size_t open_invites = 0;
  std::vector<std::string> roots;  // fingerprints, newest first
  bool rotating = false;           // a change of CA started and not finished
  std::string certificate_ca;      // the root this node's certificate is of
  uint64_t root_change_number = 0;
};

// A step of a change of CA, as StartRotation and FinishRotation made it.
struct RotationStep {
  uint64_t number = 0;
  std::string ca_fingerprint;  // the new CA
  bool finished = false;
};

class TrustBook {
 public:
  // `credentials`: nullopt for a plaintext node. The bulletin is kept in
  // <credentials' folder>/bulletin.pb (`folder`), read here: a revocation
  // survives a restart even when no peer is up to tell it again.
  // `roots_dropped`: called (without the lock) when a root is no longer
  // trusted, so that connections made with a certificate of it are made
  // again.
  TrustBook(std::optional<Credentials> credentials, std::filesystem::path folder,
            const Clock& clock, std::function<int64_t()> now_unix,
            std::function<void()> roots_dropped = {});

  bool secure() const { return credentials_.has_value(); }
  // The credentials as loaded at start, valid while the TrustBook lives;
  // nullptr when plaintext. Who they name and their folder never change;
  // the roots, certificate and CA key may (a change of CA): Current().
  const Credentials* credentials() const { return credentials_ ? &*credentials_ : nullptr; }
  // The credentials as they are now; nullopt when plaintext.
  std::optional<Credentials> Current() const;

  // The TLS door: whether a connection whose client presented `leaf_pem`
  // goes on to gRPC at all (core/rpc/transport_security.cc asks in the
  // handshake, before any HTTP/2). In: a certificate of this cluster, a
  // removed holder's too (its calls are refused one by one with the
  // proof of its removal, so it learns why), and a joiner's card naming
  // an invitation known here (InviteBook::Knock). Out, saying why for
  // the log: no certificate, another CA's or cluster's, anything else.
  absl::Status Door(std::string_view leaf_pem);
  // A caller that presented `leaf_pem` on a TLS connection: certified
  // when it verifies under the roots for this cluster and is not revoked;
  // a joiner when it is a card (the door checked its invitation);
  // UNAUTHENTICATED (none, another CA, another cluster) or
  // PERMISSION_DENIED (removed) saying why otherwise.
  absl::StatusOr<Caller> Identify(std::string_view leaf_pem);
  // The server a node or domianctl connected to: a node of this cluster,
  // not removed.
  absl::Status CheckServer(const Subject& subject) const;
  bool IsRevoked(const Subject& subject) const;

  // Enrolment. Invite: a new code for `role`, listing `members` to try.
  absl::StatusOr<std::pair<std::string, int64_t>> Invite(Role role, std::chrono::seconds ttl,
                                                         std::vector<std::string> members);
  // A joiner's request: its certificate, the roots, the CA key for a
  // node, and the bulletin (the caller adds the members to seed from).
  // From a joiner's card, the request must name the card's invitation and
  // ask for the card's key (PERMISSION_DENIED otherwise).
  absl::StatusOr<v1::JoinResponse> Admit(const v1::JoinRequest& request, const Caller& caller);
  // Shuts `subject` (of this cluster) out: the new list's number.
  absl::StatusOr<uint64_t> Remove(Role role, const std::string& name);

  // Gossip: a short digest of the bulletin, the bulletin itself, and
  // what a peer's holds (checked; a list of another CA is ignored with a
  // log line naming `from`).
  uint64_t Digest() const;
  v1::TrustBulletin Bulletin() const;
  void Merge(const v1::TrustBulletin& bulletin, std::string_view from);

  TrustStatus Status() const;

  // A change of CA (rotation.h). Start: a new CA, trusted beside the
  // current one, this node's certificate of it, and the record that
  // tells every member to do the same. FAILED_PRECONDITION when this
  // node cannot (no CA key, plaintext) or a change is under way.
  absl::StatusOr<RotationStep> StartRotation();
  // Finish: the old CA is no longer trusted, here and soon everywhere.
  // The caller checks first that every member switched.
  // FAILED_PRECONDITION when no change is under way.
  absl::StatusOr<RotationStep> FinishRotation();
  // The fingerprint of the root that signed `leaf_pem` (a certificate a
  // member presented), or why it is of none.
  absl::StatusOr<std::string> CaOf(std::string_view leaf_pem) const;

 private:
  RootState RootStateLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // *dropped: a root is no longer trusted.
  bool MergeRootChangeLocked(const v1::SignedRootChange& sent, std::string_view from,
                             bool* dropped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes a checked change: records it (the bulletin first), then
  // rewrites the files and swaps the roots. False when this node could
  // not (logged). *dropped: a root is no longer trusted.
  // A record this node made (a start or a finish), taken here as a
  // peer's would be: the one change it is.
  absl::StatusOr<RootChange> TakeOwnLocked(const v1::SignedRootChange& made)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool TakeLocked(const RootChange& change, const v1::SignedRootChange& sent, bool* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the files of current_ that differ on disk, in an order that
  // leaves a loadable folder after a power cut at any point.
  absl::Status WriteFilesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetRootsLocked(std::string roots_pem) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  v1::TrustBulletin BulletinLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool MergeRevocationsLocked(const v1::SignedRevocationList& signed_list, std::string_view from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::optional<Credentials> credentials_;
  const std::filesystem::path folder_;
  const std::function<int64_t()> now_unix_;
  const std::function<void()> roots_dropped_;

  mutable absl::Mutex mu_;
  // Set when secure: the credentials now, and their roots to verify with
  // (a new RootSet for new roots; roots_generation_ counts them, so that
  // a verification made with old roots is not remembered).
  std::optional<Credentials> current_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const RootSet> roots_ ABSL_GUARDED_BY(mu_);
  uint64_t roots_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // The last change of CA taken, as it travels (with the CA key); its
  // number; while started and not finished, the cross certificate
  // presented after this node's own.
  std::optional<v1::SignedRootChange> root_change_ ABSL_GUARDED_BY(mu_);
  uint64_t root_number_ ABSL_GUARDED_BY(mu_) = 0;
  bool rotating_ ABSL_GUARDED_BY(mu_) = false;
  std::string cross_pem_ ABSL_GUARDED_BY(mu_);
  // A refused change or list is logged once, not at every exchange.
  std::string refused_change_ ABSL_GUARDED_BY(mu_);
  std::string refused_list_ ABSL_GUARDED_BY(mu_);

  Revocations revocations_ ABSL_GUARDED_BY(mu_);
  InviteBook invites_ ABSL_GUARDED_BY(mu_);
  uint64_t digest_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, PeerCertificate, std::less<>> verified_ ABSL_GUARDED_BY(mu_);
};

}  // namespace domian::trust
