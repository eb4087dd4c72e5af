#include "core/trust/revocations.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>

#include "core/model/values.h"
#include "core/trust/internal/openssl.h"

namespace domian::trust {
namespace {

// The list before anything was removed travels as an empty
// SignedRevocationList: nothing to sign, nothing to check.
bool IsEmptyList(const v1::SignedRevocationList& signed_list) {
  return signed_list.body().empty() && signed_list.signature().empty();
}

// The bytes that are signed. Deterministic, so that the same list always
// makes the same body.
std::string Serialize(const v1::RevocationList& list) {
  std::string body;
  {
    google::protobuf::io::StringOutputStream stream(&body);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    list.SerializeToCodedStream(&coded);
  }
  return body;
}

absl::Status CheckEntries(const v1::RevocationList& list) {
  if (static_cast<size_t>(list.revoked_size()) > kMaxRevoked) {
    return absl::InvalidArgumentError(internal::Concat(
        "the revocation list holds ", list.revoked_size(), " entries, more than ", kMaxRevoked));
  }
  for (int i = 0; i < list.revoked_size(); ++i) {
    const v1::Revoked& entry = list.revoked(i);
    if (!ParseRole(entry.role()).ok() || !IsValidNodeId(entry.name())) {
      return absl::InvalidArgumentError(internal::Concat(
          "entry ", i + 1, " of the revocation list is not a valid role and name"));
    }
  }
  return absl::OkStatus();
}

bool Names(const v1::Revoked& entry, const Subject& subject) {
  return entry.role() == RoleName(subject.role) && entry.name() == subject.name;
}

}  // namespace

absl::StatusOr<Revocations> Revocations::FromSigned(const v1::SignedRevocationList& signed_list,
                                                    const RootSet& roots,
                                                    std::string_view cluster) {
  if (IsEmptyList(signed_list)) return Revocations();
  if (signed_list.body().size() > kMaxRevocationListBytes) {
    return absl::InvalidArgumentError(
        internal::Concat("the revocation list is ", signed_list.body().size(), " bytes, more than ",
                         kMaxRevocationListBytes));
  }
  if (signed_list.signature().empty() ||
      signed_list.signature().size() > internal::kMaxSignatureBytes) {
    return absl::UnauthenticatedError("the revocation list carries no valid signature");
  }
  absl::StatusOr<std::vector<std::string>> root_pems = SplitBundle(roots.pem());
  if (!root_pems.ok()) return root_pems.status();
  bool signed_by_root = std::any_of(root_pems->begin(), root_pems->end(), [&](const auto& root) {
    return VerifySignature(root, signed_list.body(), signed_list.signature());
  });
  if (!signed_by_root) {
    return absl::UnauthenticatedError(internal::Concat(
        "the revocation list is not signed by cluster ", internal::Shown(cluster), "'s CA"));
  }

  Revocations revocations;
  if (!revocations.list_.ParseFromString(signed_list.body())) {
    return absl::InvalidArgumentError("the revocation list's body is not a RevocationList");
  }
  if (revocations.list_.cluster() != cluster) {
    return absl::InvalidArgumentError(internal::Concat("the revocation list is for cluster ",
                                                       internal::Shown(revocations.list_.cluster()),
                                                       ", not ", internal::Shown(cluster)));
  }
  // Number 0 is the empty list, which is never signed.
  if (revocations.list_.number() == 0) {
    return absl::InvalidArgumentError("a signed revocation list numbered 0");
  }
  if (absl::Status entries = CheckEntries(revocations.list_); !entries.ok()) return entries;
  revocations.signed_ = signed_list;
  return revocations;
}

absl::StatusOr<Revocations> Revocations::With(const Subject& subject, int64_t now_unix,
                                              const Authority& authority) const {
  if (!IsValidClusterName(subject.cluster) || !IsValidNodeId(subject.name)) {
    return absl::InvalidArgumentError(
        internal::Concat("'", internal::Shown(SubjectUri(subject)), "' is not a valid identity"));
  }
  if (!list_.cluster().empty() && list_.cluster() != subject.cluster) {
    return absl::InvalidArgumentError(internal::Concat("cannot remove ", Describe(subject),
                                                       " from the revocation list of cluster ",
                                                       list_.cluster()));
  }
  if (static_cast<size_t>(list_.revoked_size()) >= kMaxRevoked && !IsRevoked(subject)) {
    return absl::ResourceExhaustedError(
        internal::Concat("the revocation list is full (", kMaxRevoked, " entries)"));
  }
  absl::StatusOr<bool> matches = KeyMatches(authority.key_pem, authority.cert_pem);
  if (!matches.ok()) return matches.status();
  if (!*matches) return absl::InvalidArgumentError("the CA key is not the CA certificate's key");

  Revocations next;
  next.list_ = list_;
  next.list_.set_cluster(subject.cluster);
  next.list_.set_number(list_.number() + 1);
  if (!IsRevoked(subject)) {
    v1::Revoked* entry = next.list_.add_revoked();
    entry->set_role(std::string(RoleName(subject.role)));
    entry->set_name(subject.name);
    entry->set_at_unix(now_unix);
  }
  std::string body = Serialize(next.list_);
  if (body.size() > kMaxRevocationListBytes) {
    return absl::ResourceExhaustedError(internal::Concat("the revocation list would be ",
                                                         body.size(), " bytes, more than ",
                                                         kMaxRevocationListBytes));
  }
  absl::StatusOr<std::string> signature = Sign(authority.key_pem, body);
  if (!signature.ok()) return signature.status();
  next.signed_.set_body(std::move(body));
  next.signed_.set_signature(*std::move(signature));
  return next;
}

absl::StatusOr<Revocations> Revocations::Resigned(const Authority& authority) const {
  if (list_.number() == 0) return *this;
  absl::StatusOr<bool> matches = KeyMatches(authority.key_pem, authority.cert_pem);
  if (!matches.ok()) return matches.status();
  if (!*matches) return absl::InvalidArgumentError("the CA key is not the CA certificate's key");
  Revocations next;
  next.list_ = list_;
  next.list_.set_number(list_.number() + 1);
  std::string body = Serialize(next.list_);
  absl::StatusOr<std::string> signature = Sign(authority.key_pem, body);
  if (!signature.ok()) return signature.status();
  next.signed_.set_body(std::move(body));
  next.signed_.set_signature(*std::move(signature));
  return next;
}

bool Revocations::SignedBy(std::string_view ca_cert_pem) const {
  if (list_.number() == 0) return true;
  return VerifySignature(ca_cert_pem, signed_.body(), signed_.signature());
}

bool Revocations::IsRevoked(const Subject& subject) const {
  return std::any_of(list_.revoked().begin(), list_.revoked().end(),
                     [&](const v1::Revoked& entry) { return Names(entry, subject); });
}

}  // namespace domian::trust
