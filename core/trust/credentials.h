// A holder's credentials on disk: a folder (mode 0700) of
//
//   ca.pem    the roots it trusts: the cluster's CA (two while it rotates,
//             the newer first)
//   ca.key    the key of one of them, the newest a node has taken; nodes
//             only, so that any member can admit a joiner while any one
//             member is up (mode 0600)
//   cert.pem  its certificate (0644), naming it in a URI SAN (pki.h)
//   key.pem   its key (0600); it never leaves the machine
//   chain.pem what a node presents: cert.pem and its CA (kept by the
//             node's TrustBook, which rewrites it when the CA changes;
//             gRPC reads it, ca.pem and key.pem again when they change)
//
// A node keeps them in <state_dir>/tls; an operator's domianctl in
// $DOMIAN_CREDENTIALS or ~/.config/domian/credentials. A folder is
// written whole under another name and renamed into place, so a reader
// sees all of it or none, and `cluster init` or `join` never leaves half a
// cluster behind after a power cut.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/common/files.h"
#include "core/common/status.h"
#include "core/trust/pki.h"

namespace domian::trust {

inline constexpr char kRootsFile[] = "ca.pem";
inline constexpr char kAuthorityKeyFile[] = "ca.key";
inline constexpr char kCertFile[] = "cert.pem";
inline constexpr char kKeyFile[] = "key.pem";
inline constexpr char kChainFile[] = "chain.pem";

struct Credentials {
  Subject self;                     // what cert.pem names
  std::string roots_pem;
  std::string cert_pem;
  std::string key_pem;
  std::optional<Authority> authority;  // ca.key and the root it is the key of, when held
  // The folder a node's TrustBook keeps these credentials in, up to date
  // (a change of CA rewrites them); empty for any others. The node's TLS
  // reads its files there again when they change, without a restart.
  std::filesystem::path folder;
};

// Reads and checks a folder: the files belong together (the key is the
// certificate's, the certificate verifies under the roots, ca.key is the
// first root's). NOT_FOUND when the folder does not exist (not enrolled
// yet); FAILED_PRECONDITION naming the file for anything else wrong,
// including a key file others can read.
absl::StatusOr<Credentials> LoadCredentials(const std::filesystem::path& dir);

// Writes `credentials` as `dir`, which must not exist yet
// (ALREADY_EXISTS: enrolling twice would orphan the first identity).
// Files and folder get the owner and group of dir's parent, so that
// `sudo domianctl cluster init` leaves them to the daemon's user.
absl::Status SaveCredentials(const std::filesystem::path& dir, const Credentials& credentials);

// Gives `path` the owner and group of its folder when this process is
// root (sudo domianctl writing for the daemon's user); else nothing.
void GiveToFolderOwner(const std::filesystem::path& path);

// WriteFileAtomically (core/common/files.h), then owned like its folder:
// root enrolling a node leaves the file to the daemon's user.
absl::Status WriteOwnedFile(const std::filesystem::path& file, const std::string& content,
                            mode_t mode);

}  // namespace domian::trust
