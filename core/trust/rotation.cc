#include "core/trust/rotation.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "core/model/values.h"
#include "core/trust/internal/openssl.h"

namespace domian::trust {
namespace {

using internal::Concat;

// The bytes that are signed: deterministic, so that one change always
// makes one body (and one bulletin digest on every member).
std::string Serialize(const v1::RootChange& change) {
  std::string body;
  {
    google::protobuf::io::StringOutputStream stream(&body);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    change.SerializeToCodedStream(&coded);
  }
  return body;
}

absl::StatusOr<v1::SignedRootChange> Signed(const v1::RootChange& change, const Authority& signer,
                                            const std::string& ca_key_pem) {
  v1::SignedRootChange signed_change;
  signed_change.set_body(Serialize(change));
  absl::StatusOr<std::string> signature = Sign(signer.key_pem, signed_change.body());
  if (!signature.ok()) return signature.status();
  signed_change.set_signature(*std::move(signature));
  signed_change.set_ca_key_pem(ca_key_pem);
  return signed_change;
}

// `cross_pem` certifies the key of `ca_pem`, signed by `issuer_pem`.
absl::Status CheckCross(std::string_view cross_pem, std::string_view ca_pem,
                        std::string_view issuer_pem) {
  internal::ErrorQueueGuard guard;
  absl::StatusOr<internal::X509Ptr> cross = internal::ReadCertificate(cross_pem, "the cross certificate");
  absl::StatusOr<internal::X509Ptr> ca = internal::ReadCertificate(ca_pem, "the new CA");
  absl::StatusOr<internal::X509Ptr> issuer = internal::ReadCertificate(issuer_pem, "the old CA");
  if (!cross.ok() || !ca.ok() || !issuer.ok()) {
    return absl::InvalidArgumentError("the change of CA carries a certificate that cannot be read");
  }
  if (X509_check_ca(cross->get()) != 1 ||
      EVP_PKEY_eq(X509_get0_pubkey(cross->get()), X509_get0_pubkey(ca->get())) != 1 ||
      X509_verify(cross->get(), X509_get0_pubkey(issuer->get())) != 1) {
    return absl::UnauthenticatedError(
        "the change of CA's cross certificate is not the new CA certified by the old one");
  }
  return absl::OkStatus();
}

// One record, read and bounded; its signature is not checked here.
absl::StatusOr<RootChange> Read(const v1::SignedRootChange& sent, std::string_view cluster) {
  if (sent.signature().empty() || sent.signature().size() > internal::kMaxSignatureBytes) {
    return absl::UnauthenticatedError("the change of CA carries no valid signature");
  }
  v1::RootChange body;
  if (!body.ParseFromString(sent.body())) {
    return absl::InvalidArgumentError("the change of CA's body is not a RootChange");
  }
  if (body.cluster() != cluster) {
    return absl::InvalidArgumentError(Concat("the change of CA is for cluster ",
                                             internal::Shown(body.cluster()), ", not ",
                                             internal::Shown(cluster)));
  }
  if (body.number() == 0 || body.number() > kMaxRootChangeNumber) {
    return absl::InvalidArgumentError(
        Concat("the change of CA's number ", body.number(), " is out of range"));
  }
  RootChange change;
  change.number = body.number();
  change.finished = body.finished();
  change.next.cert_pem = body.ca_cert_pem();
  change.next.key_pem = sent.ca_key_pem();
  change.cross_cert_pem = body.cross_cert_pem();
  change.previous_fingerprint = body.previous_fingerprint();
  absl::StatusOr<std::shared_ptr<const RootSet>> root = RootSet::Parse(change.next.cert_pem);
  if (!root.ok() || (*root)->fingerprints().size() != 1) {
    return absl::InvalidArgumentError("the change of CA does not carry one CA certificate");
  }
  change.fingerprint = (*root)->fingerprints().front();
  if (change.next.key_pem.empty()) {
    return absl::InvalidArgumentError("the change of CA carries no CA key");
  }
  absl::StatusOr<bool> key = KeyMatches(change.next.key_pem, change.next.cert_pem);
  if (!key.ok() || !*key) {
    return absl::UnauthenticatedError("the change of CA's key is not the new CA's");
  }
  if (!change.finished && change.cross_cert_pem.empty()) {
    return absl::InvalidArgumentError("the start of a change of CA carries no cross certificate");
  }
  return change;
}

// A start taken by a member whose newest root is `newest`: signed by it,
// replacing it, its cross certificate made by it.
absl::Status CheckStart(const v1::SignedRootChange& sent, const RootChange& change,
                        const std::string& newest) {
  absl::StatusOr<std::string> newest_fingerprint = Fingerprint(newest);
  if (!newest_fingerprint.ok()) return newest_fingerprint.status();
  if (change.previous_fingerprint != *newest_fingerprint) {
    return absl::UnauthenticatedError(Concat(
        "the change of CA replaces CA ", internal::Shown(change.previous_fingerprint),
        ", not the newest this member trusts (", *newest_fingerprint, ")"));
  }
  if (change.fingerprint == *newest_fingerprint) {
    return absl::InvalidArgumentError("the change of CA replaces a CA with itself");
  }
  if (!VerifySignature(newest, sent.body(), sent.signature())) {
    return absl::UnauthenticatedError("the change of CA is not signed by the CA it replaces");
  }
  return CheckCross(change.cross_cert_pem, change.next.cert_pem, newest);
}

}  // namespace

absl::StatusOr<v1::SignedRootChange> MakeRootChangeStart(std::string_view cluster,
                                                         uint64_t number,
                                                         const Authority& current,
                                                         const Authority& next) {
  if (number == 0 || number > kMaxRootChangeNumber) {
    return absl::OutOfRangeError("no number is left for another change of CA");
  }
  absl::StatusOr<std::string> previous = Fingerprint(current.cert_pem);
  if (!previous.ok()) return previous.status();
  absl::StatusOr<std::string> cross = CrossCertify(current, next.cert_pem);
  if (!cross.ok()) return cross.status();
  v1::RootChange change;
  change.set_cluster(std::string(cluster));
  change.set_number(number);
  change.set_finished(false);
  change.set_ca_cert_pem(next.cert_pem);
  change.set_cross_cert_pem(*std::move(cross));
  change.set_previous_fingerprint(*std::move(previous));
  return Signed(change, current, next.key_pem);
}

absl::StatusOr<v1::SignedRootChange> MakeRootChangeFinish(std::string_view cluster,
                                                          uint64_t number,
                                                          const v1::SignedRootChange& started,
                                                          const Authority& next) {
  v1::RootChange start;
  if (!start.ParseFromString(started.body()) || start.finished()) {
    return absl::InvalidArgumentError("not the start of a change of CA");
  }
  if (number <= start.number() || number > kMaxRootChangeNumber) {
    return absl::OutOfRangeError("the finish of a change of CA needs a larger number");
  }
  v1::RootChange change;
  change.set_cluster(std::string(cluster));
  change.set_number(number);
  change.set_finished(true);
  change.set_ca_cert_pem(next.cert_pem);
  change.set_previous_fingerprint(start.previous_fingerprint());
  absl::StatusOr<v1::SignedRootChange> finish = Signed(change, next, next.key_pem);
  if (!finish.ok()) return finish;
  // The key travels once, beside the finish.
  *finish->mutable_started() = WithoutKey(started);
  return finish;
}

absl::StatusOr<std::vector<RootChange>> RootChangesToTake(const v1::SignedRootChange& sent,
                                                          const RootState& state,
                                                          std::string_view cluster) {
  if (sent.ByteSizeLong() > kMaxRootChangeBytes) {
    return absl::InvalidArgumentError(Concat("the change of CA is ", sent.ByteSizeLong(),
                                             " bytes, more than ", kMaxRootChangeBytes));
  }
  if (state.roots_pem.empty()) return absl::FailedPreconditionError("no roots to check with");
  const std::string& newest = state.roots_pem.front();
  absl::StatusOr<RootChange> change = Read(sent, cluster);
  if (!change.ok()) return change.status();
  if (change->number <= state.number) return std::vector<RootChange>{};  // nothing newer

  if (!change->finished) {
    if (sent.has_started()) {
      return absl::InvalidArgumentError("the start of a change of CA carries another start");
    }
    if (absl::Status start = CheckStart(sent, *change, newest); !start.ok()) return start;
    return std::vector<RootChange>{*std::move(change)};
  }

  std::vector<RootChange> changes;
  absl::StatusOr<std::string> newest_fingerprint = Fingerprint(newest);
  if (!newest_fingerprint.ok()) return newest_fingerprint.status();
  if (*newest_fingerprint != change->fingerprint) {
    // The start was missed: take it first, checked as any start.
    if (!sent.has_started()) {
      return absl::UnauthenticatedError(
          "the finish of a change of CA names a CA this member does not trust, and carries "
          "no start");
    }
    v1::SignedRootChange started = sent.started();
    if (started.has_started()) {
      return absl::InvalidArgumentError("the start of a change of CA carries another start");
    }
    started.set_ca_key_pem(sent.ca_key_pem());
    absl::StatusOr<RootChange> start = Read(started, cluster);
    if (!start.ok()) return start.status();
    if (start->finished || start->fingerprint != change->fingerprint ||
        start->number >= change->number) {
      return absl::InvalidArgumentError("the finish of a change of CA carries another change");
    }
    if (start->number <= state.number) {
      return absl::UnauthenticatedError(
          "the finish of a change of CA follows a start this member did not take (another "
          "change with the same number)");
    }
    if (absl::Status checked = CheckStart(started, *start, newest); !checked.ok()) {
      return checked;
    }
    changes.push_back(*std::move(start));
  }
  if (!VerifySignature(change->next.cert_pem, sent.body(), sent.signature())) {
    return absl::UnauthenticatedError("the finish of a change of CA is not signed by its CA");
  }
  changes.push_back(*std::move(change));
  return changes;
}

absl::StatusOr<RootChange> RootChangeInForce(const v1::SignedRootChange& sent,
                                             const std::vector<std::string>& roots_pem,
                                             std::string_view cluster) {
  if (sent.ByteSizeLong() > kMaxRootChangeBytes) {
    return absl::InvalidArgumentError("the change of CA is too large");
  }
  absl::StatusOr<RootChange> change = Read(sent, cluster);
  if (!change.ok()) return change.status();
  if (roots_pem.empty()) return absl::FailedPreconditionError("no roots");
  absl::StatusOr<std::string> first = Fingerprint(roots_pem.front());
  if (!first.ok()) return first.status();
  if (*first != change->fingerprint) {
    return absl::FailedPreconditionError("the roots do not begin with the change's CA");
  }
  if (change->finished) {
    if (roots_pem.size() != 1) return absl::FailedPreconditionError("the old CA is still trusted");
    if (!VerifySignature(roots_pem.front(), sent.body(), sent.signature())) {
      return absl::UnauthenticatedError("the finish of a change of CA is not signed by its CA");
    }
    return change;
  }
  if (roots_pem.size() != 2) return absl::FailedPreconditionError("the old CA is not trusted");
  if (absl::Status start = CheckStart(sent, *change, roots_pem[1]); !start.ok()) return start;
  return change;
}

v1::SignedRootChange WithoutKey(v1::SignedRootChange change) {
  change.clear_ca_key_pem();
  if (change.has_started()) change.mutable_started()->clear_ca_key_pem();
  return change;
}

}  // namespace domian::trust
