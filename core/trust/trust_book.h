// TrustBook: what this node knows about who may talk to the cluster, and
// the one owner of it: its credentials, the revocation list, the open
// invitations. The RPC layer asks it who a caller is (Identify, per call,
// so a removal holds on connections already open), spreads its bulletin
// with the heartbeats (Digest, Bulletin, Merge), and hands it the
// enrolment calls (Invite, Admit, Remove).
//
// Threads: any; one mutex guards everything, held only for map lookups
// and merges (a certificate's first verification runs outside it and is
// cached by the certificate's text).
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
#include "domian/v1/trust.pb.h"

namespace domian::trust {

inline constexpr char kBulletinFile[] = "bulletin.pb";
// Verified certificates remembered (a household has a few nodes and
// operators; a flood of distinct certificates only empties the cache).
inline constexpr size_t kMaxVerifiedCertificates = 256;

struct TrustStatus {
  bool secure = false;
  std::string ca_fingerprint;
  uint64_t revocation_number = 0;
  size_t revoked = 0;
  size_t open_invites = 0;
};

class TrustBook {
 public:
  // `credentials`: nullopt for a plaintext node. The bulletin is kept in
  // <credentials' folder>/bulletin.pb (`folder`), read here: a revocation
  // survives a restart even when no peer is up to tell it again.
  TrustBook(std::optional<Credentials> credentials, std::filesystem::path folder,
            const Clock& clock, std::function<int64_t()> now_unix);

  bool secure() const { return credentials_.has_value(); }
  // Valid while the TrustBook lives; nullptr when plaintext.
  const Credentials* credentials() const { return credentials_ ? &*credentials_ : nullptr; }

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

 private:
  v1::TrustBulletin BulletinLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool MergeRevocationsLocked(const v1::SignedRevocationList& signed_list, std::string_view from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::optional<Credentials> credentials_;
  const std::filesystem::path folder_;
  const std::function<int64_t()> now_unix_;
  std::shared_ptr<const RootSet> roots_;  // set once in the constructor

  mutable absl::Mutex mu_;
  Revocations revocations_ ABSL_GUARDED_BY(mu_);
  InviteBook invites_ ABSL_GUARDED_BY(mu_);
  uint64_t digest_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, PeerCertificate, std::less<>> verified_ ABSL_GUARDED_BY(mu_);
};

}  // namespace domian::trust
