// Credentials on disk: written whole, read back only when they belong
// together and the keys are the holder's alone.
#include "core/trust/credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace domian::trust {
namespace {

using ::testing::HasSubstr;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "domian-credentials-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    authority_ = NewAuthority("home").value();
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  Credentials Node(const std::string& id, bool with_authority = true) {
    const Subject subject{"home", Role::kNode, id};
    const std::string key = NewPrivateKey().value();
    Credentials made{.self = subject,
                     .roots_pem = authority_.cert_pem,
                     .cert_pem = Issue(authority_, NewCsr(key, subject).value(), subject).value(),
                     .key_pem = key};
    if (with_authority) made.authority = authority_;
    return made;
  }

  std::filesystem::path root_;
  Authority authority_;
};

TEST_F(CredentialsTest, WrittenCredentialsReadBackWithKeysForTheOwnerOnly) {
  const auto dir = root_ / "tls";
  ASSERT_TRUE(SaveCredentials(dir, Node("pi1")).ok());
  const absl::StatusOr<Credentials> loaded = LoadCredentials(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->self, (Subject{"home", Role::kNode, "pi1"}));
  ASSERT_TRUE(loaded->authority.has_value());
  using std::filesystem::perms;
  for (const char* key : {kKeyFile, kAuthorityKeyFile}) {
    EXPECT_EQ(std::filesystem::status(dir / key).permissions() & (perms::group_all | perms::others_all),
              perms::none)
        << key;
  }
  EXPECT_EQ(std::filesystem::status(dir).permissions() & (perms::group_all | perms::others_all),
            perms::none);
  EXPECT_FALSE(std::filesystem::exists(root_ / "tls.new"));
}

TEST_F(CredentialsTest, CredentialsWithoutTheAuthorityKeyHaveNoneOnDisk) {
  const auto dir = root_ / "operator";
  Credentials without = Node("pi3", /*with_authority=*/false);
  ASSERT_TRUE(SaveCredentials(dir, without).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / kAuthorityKeyFile));
  EXPECT_FALSE(LoadCredentials(dir)->authority.has_value());
}

TEST_F(CredentialsTest, NoFolderIsNotFoundAndASecondEnrolmentIsRefused) {
  EXPECT_TRUE(absl::IsNotFound(LoadCredentials(root_ / "tls").status()));
  ASSERT_TRUE(SaveCredentials(root_ / "tls", Node("pi1")).ok());
  const absl::Status again = SaveCredentials(root_ / "tls", Node("pi1"));
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
}

TEST_F(CredentialsTest, FilesThatDoNotBelongTogetherAreRefusedNamingTheFile) {
  const auto dir = root_ / "tls";
  ASSERT_TRUE(SaveCredentials(dir, Node("pi1")).ok());
  // Another node's key in place of this one's.
  std::ofstream(dir / kKeyFile, std::ios::trunc) << Node("pi2").key_pem;
  std::filesystem::permissions(dir / kKeyFile, std::filesystem::perms(0600));
  absl::Status loaded = LoadCredentials(dir).status();
  EXPECT_THAT(std::string(loaded.message()), HasSubstr("key.pem: is not the key of"));
  // A key others may read.
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(SaveCredentials(dir, Node("pi1")).ok());
  std::filesystem::permissions(dir / kKeyFile, std::filesystem::perms(0644));
  loaded = LoadCredentials(dir).status();
  EXPECT_THAT(std::string(loaded.message()), HasSubstr("others may read this key (mode 644)"));
  // A certificate of another CA.
  std::filesystem::remove_all(dir);
  Credentials foreign = Node("pi1");
  const Authority other = NewAuthority("home").value();
  foreign.cert_pem = Issue(other, NewCsr(foreign.key_pem, foreign.self).value(), foreign.self).value();
  ASSERT_TRUE(SaveCredentials(dir, foreign).ok());
  loaded = LoadCredentials(dir).status();
  EXPECT_THAT(std::string(loaded.message()), HasSubstr("cert.pem: the certificate is not signed"));
}

}  // namespace
}  // namespace domian::trust
