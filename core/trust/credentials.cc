#include "core/trust/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace domian::trust {
namespace {

namespace fs = std::filesystem;

absl::Status IoError(const std::string& what, const fs::path& path, int error) {
  return absl::FailedPreconditionError(what + " " + path.string() + ": " + std::strerror(error));
}

// The folder's entries (a rename) survive a power cut.
void SyncFolder(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Gives `path` the owner of `like` (root writing for the daemon's user);
// a process that may not change owners leaves them as they are.
void OwnLike(const fs::path& path, const fs::path& like) {
  struct stat folder {};
  if (::stat(like.c_str(), &folder) != 0) return;
  if (::geteuid() != 0) return;
  (void)::chown(path.c_str(), folder.st_uid, folder.st_gid);
}

}  // namespace

void GiveToFolderOwner(const fs::path& path) { OwnLike(path, path.parent_path()); }

absl::Status WriteOwnedFile(const fs::path& file, const std::string& content, mode_t mode) {
  if (absl::Status written = WriteFileAtomically(file, content, mode); !written.ok()) {
    return written;
  }
  OwnLike(file, file.parent_path());
  return absl::OkStatus();
}

absl::StatusOr<Credentials> LoadCredentials(const fs::path& dir) {
  std::error_code error;
  if (!fs::exists(dir, error)) {
    return absl::NotFoundError(dir.string() + " does not exist: this machine has not joined a "
                               "cluster (domianctl cluster init, or cluster join)");
  }
  auto read = [&dir](const char* name) { return ReadBoundedFile(dir / name, kMaxPemBytes); };
  auto refuse = [&dir](const char* name, const std::string& why) {
    return absl::FailedPreconditionError((dir / name).string() + ": " + why);
  };
  for (const char* secret : {kKeyFile, kAuthorityKeyFile}) {
    struct stat info {};
    if (::stat((dir / secret).c_str(), &info) == 0 && (info.st_mode & 077) != 0) {
      return refuse(secret, fmt::format("others may read this key (mode {:o}): chmod 600 it",
                                        info.st_mode & 0777));
    }
  }
  absl::StatusOr<std::string> roots = read(kRootsFile);
  if (!roots.ok()) return refuse(kRootsFile, std::string(StatusMessage(roots.status())));
  absl::StatusOr<std::string> cert = read(kCertFile);
  if (!cert.ok()) return refuse(kCertFile, std::string(StatusMessage(cert.status())));
  absl::StatusOr<std::string> key = read(kKeyFile);
  if (!key.ok()) return refuse(kKeyFile, std::string(StatusMessage(key.status())));

  absl::StatusOr<std::shared_ptr<const RootSet>> root_set = RootSet::Parse(*roots);
  if (!root_set.ok()) return refuse(kRootsFile, std::string(StatusMessage(root_set.status())));
  // The cluster is the certificate's own: Verify checks it against itself
  // here, and the daemon checks it against node.yaml.
  absl::StatusOr<std::vector<std::string>> leaf = SplitBundle(*cert);
  if (!leaf.ok()) return refuse(kCertFile, std::string(StatusMessage(leaf.status())));
  absl::StatusOr<bool> matches = KeyMatches(*key, *cert);
  if (!matches.ok()) return refuse(kKeyFile, std::string(StatusMessage(matches.status())));
  if (!*matches) return refuse(kKeyFile, "is not the key of " + (dir / kCertFile).string());

  Credentials credentials;
  credentials.roots_pem = *std::move(roots);
  credentials.cert_pem = *std::move(cert);
  credentials.key_pem = *std::move(key);
  absl::StatusOr<PeerCertificate> self = (*root_set)->VerifyAnyCluster(credentials.cert_pem);
  if (!self.ok()) return refuse(kCertFile, std::string(StatusMessage(self.status())));
  credentials.self = self->subject;

  absl::StatusOr<std::string> authority_key = read(kAuthorityKeyFile);
  if (authority_key.ok()) {
    // Any root: a node changing CAs (trust/rotation.h) writes the roots
    // before the new key, and a power cut may fall between the two.
    absl::StatusOr<std::vector<std::string>> root_pems = SplitBundle(credentials.roots_pem);
    if (!root_pems.ok()) return refuse(kRootsFile, std::string(StatusMessage(root_pems.status())));
    for (const std::string& root : *root_pems) {
      absl::StatusOr<bool> ours = KeyMatches(*authority_key, root);
      if (ours.ok() && *ours) {
        credentials.authority = Authority{root, *authority_key};
        break;
      }
    }
    if (!credentials.authority) {
      return refuse(kAuthorityKeyFile,
                    "is not the key of a CA in " + (dir / kRootsFile).string());
    }
  } else if (!absl::IsNotFound(authority_key.status())) {
    return refuse(kAuthorityKeyFile, std::string(StatusMessage(authority_key.status())));
  }
  return credentials;
}

absl::Status SaveCredentials(const fs::path& dir, const Credentials& credentials) {
  std::error_code error;
  if (fs::exists(dir, error)) {
    return absl::AlreadyExistsError(dir.string() +
                                    " exists: this machine already has cluster credentials");
  }
  const fs::path parent = dir.parent_path();
  fs::create_directories(parent, error);
  const fs::path temp = dir.string() + ".new";
  fs::remove_all(temp, error);  // a run cut short before
  if (::mkdir(temp.c_str(), 0700) != 0) return IoError("cannot create", temp, errno);
  ::chmod(temp.c_str(), 0700);
  OwnLike(temp, parent);
  struct File {
    const char* name;
    const std::string* content;
    mode_t mode;
  };
  std::vector<File> files = {{kRootsFile, &credentials.roots_pem, 0644},
                             {kCertFile, &credentials.cert_pem, 0644},
                             {kKeyFile, &credentials.key_pem, 0600}};
  if (credentials.authority) {
    files.push_back({kAuthorityKeyFile, &credentials.authority->key_pem, 0600});
  }
  for (const File& file : files) {
    if (absl::Status written = WriteOwnedFile(temp / file.name, *file.content, file.mode);
        !written.ok()) {
      return written;
    }
  }
  if (::rename(temp.c_str(), dir.c_str()) != 0) return IoError("cannot rename into", dir, errno);
  SyncFolder(parent);
  return absl::OkStatus();
}

}  // namespace domian::trust
