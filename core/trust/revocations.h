// The revocation list: the nodes and operators a cluster has removed
// (`domianctl node remove`), signed by the cluster's CA so that any member
// can pass it on and every member can check it. A holder is refused by
// role and name, whatever certificate it shows; the list's number only
// grows, and of two valid lists the larger number holds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/common/status.h"
#include "core/trust/pki.h"
#include "domian/v1/trust.pb.h"

namespace domian::trust {

// Bounds on what a peer's list may hold (a household has a handful of
// nodes; removals accumulate over years).
inline constexpr size_t kMaxRevoked = 4096;
inline constexpr size_t kMaxRevocationListBytes = 256 * 1024;

class Revocations {
 public:
  Revocations() = default;  // empty, number 0, unsigned
  // Checks a signed list against `roots` (signed by one of them, for
  // `cluster`, within the bounds above). INVALID_ARGUMENT /
  // UNAUTHENTICATED with the reason otherwise.
  static absl::StatusOr<Revocations> FromSigned(const v1::SignedRevocationList& signed_list,
                                                const RootSet& roots, std::string_view cluster);

  // This list plus `subject`, numbered one higher, signed with
  // `authority`. Removing a holder already removed only renumbers.
  absl::StatusOr<Revocations> With(const Subject& subject, int64_t now_unix,
                                   const Authority& authority) const;

  // The same list numbered one higher and signed by `authority`: when
  // the cluster's CA changes (trust/rotation.h), so that the list still
  // checks out once the old CA is no longer trusted. The empty list stays
  // as it is (nothing is signed).
  absl::StatusOr<Revocations> Resigned(const Authority& authority) const;
  // True when `ca_cert_pem`'s key signed this list (or it is empty).
  bool SignedBy(std::string_view ca_cert_pem) const;

  bool IsRevoked(const Subject& subject) const;
  uint64_t number() const { return list_.number(); }
  size_t size() const { return static_cast<size_t>(list_.revoked_size()); }
  const v1::RevocationList& list() const { return list_; }
  // As it travels; empty (no body) for number 0.
  const v1::SignedRevocationList& signed_list() const { return signed_; }

 private:
  v1::RevocationList list_;
  v1::SignedRevocationList signed_;
};

}  // namespace domian::trust
