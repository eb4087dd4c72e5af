// Changing a cluster's CA without stopping it (`domianctl cluster
// rotate-ca`), as signed records that spread in the trust bulletin with
// the heartbeats (trust.proto: RootChange). Pure logic: it makes and
// checks records; TrustBook takes them and rewrites the node's files.
//
//   start   A member makes a new CA and a record naming it, signed by
//           the CA it replaces (the one every member trusts), carrying
//           the new CA's key for nodes and the new CA certified by the
//           old one. A member that takes it trusts both CAs (ca.pem: the
//           new first), certifies its own key under the new CA (same
//           identity), and presents that, followed by the cross
//           certificate and the new CA: whoever still trusts only the old
//           CA (a member that has not heard yet, an operator) builds a
//           chain through the cross certificate to the old one.
//   finish  Once every member presents a certificate of the new CA, a
//           record signed by the new CA says to trust it alone. It
//           carries the start, so that a member that missed it can take
//           both in order.
//
// Numbers only grow: a member takes a record only with a larger number
// than the last it took, so neither a replayed record nor a member with
// an old one can turn the cluster back. A start must be signed by the
// newest CA the member trusts (a holder of the key being retired cannot
// start another change once a member took this one); a finish by the CA
// it names. Everything a peer sends is bounded before it is read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"
#include "core/trust/pki.h"
#include "domian/v1/trust.pb.h"

namespace domian::trust {

// Roots a member trusts at once: its CA, and the next one while the CA
// changes.
inline constexpr size_t kMaxRoots = 2;
// A signed record with the start it carries: four certificates, a key
// and two signatures are a few KiB; room for long names.
inline constexpr size_t kMaxRootChangeBytes = 6 * kMaxPemBytes;
// Numbers grow by one per step; far below what saturates.
inline constexpr uint64_t kMaxRootChangeNumber = uint64_t{1} << 62;

// A record whose signature checked out, as a member takes it.
struct RootChange {
  uint64_t number = 0;
  bool finished = false;
  Authority next;                    // the new CA and its key
  std::string fingerprint;           // of next.cert_pem
  std::string cross_cert_pem;        // start only
  std::string previous_fingerprint;  // the CA it replaces
};

// What a member trusts now: its roots, newest first, and the number of
// the last change it took (0: none).
struct RootState {
  std::vector<std::string> roots_pem;
  uint64_t number = 0;
};

// The start of a change from `current` (the newest CA, which signs) to
// `next`, numbered `number`.
absl::StatusOr<v1::SignedRootChange> MakeRootChangeStart(std::string_view cluster,
                                                         uint64_t number,
                                                         const Authority& current,
                                                         const Authority& next);
// The finish of `started` (a start as MakeRootChangeStart made it),
// numbered `number` (larger), signed by `next`, the CA it started.
absl::StatusOr<v1::SignedRootChange> MakeRootChangeFinish(std::string_view cluster,
                                                          uint64_t number,
                                                          const v1::SignedRootChange& started,
                                                          const Authority& next);

// The changes a member in `state` takes from `sent`, in order: none when
// it holds nothing newer; the start, the finish, or both (a finish whose
// start the member missed). INVALID_ARGUMENT / UNAUTHENTICATED saying
// why for a record that is malformed, too large, of another cluster, not
// signed by the CA that must sign it, or whose key is not its CA's.
absl::StatusOr<std::vector<RootChange>> RootChangesToTake(const v1::SignedRootChange& sent,
                                                          const RootState& state,
                                                          std::string_view cluster);

// The record `sent` when it describes `roots_pem` as they are (a
// member's own record, read at start): a start with roots [its CA, the
// CA that signed it], or a finish whose CA is the first root and signed
// it. Else why not (the files are behind the record: a power cut between
// the two; RootChangesToTake then takes it again).
absl::StatusOr<RootChange> RootChangeInForce(const v1::SignedRootChange& sent,
                                             const std::vector<std::string>& roots_pem,
                                             std::string_view cluster);

// `change` without the CA's key: what an operator may be given.
v1::SignedRootChange WithoutKey(v1::SignedRootChange change);

}  // namespace domian::trust
