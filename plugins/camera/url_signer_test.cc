// UrlSigner: what a signed URL is (checked against the openssl command's
// HMAC, so a script can make one too), what it admits and what it refuses,
// and the share key's file.
#include "plugins/camera/url_signer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "tests/support/cluster.h"

namespace domian::camera {
namespace {

using ::testing::HasSubstr;
using Verdict = UrlSigner::Verdict;

constexpr int64_t kNow = 1'700'000'000;  // November 2023
constexpr char kStream[] = "/stream.mjpg";

ShareKey CountingKey() {
  ShareKey key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  return key;
}

// The signature of a URL, from its query.
std::string SigOf(const std::string& query) { return query.substr(query.find("sig=") + 4); }

TEST(CameraUrlSigner, TheSignatureIsHmacSha256OfPathNewlineExpires) {
  // printf '/stream.mjpg\n1700000000' |
  //   openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1e1f
  const UrlSigner signer(CountingKey());
  EXPECT_EQ(signer.Query(kStream, 1700000000),
            "expires=1700000000&sig=20d5850b89f1acfc66625550cb111a32116cd957fbf62cb0fb891d5395f7d801");
}

TEST(CameraUrlSigner, AGoodSignatureAdmitsItsPathUntilItExpires) {
  const UrlSigner signer(NewShareKey());
  const std::string query = signer.Query(kStream, kNow + 60);
  EXPECT_EQ(signer.Check(kStream, query, kNow), Verdict::kGranted);
  EXPECT_EQ(signer.Check(kStream, query, kNow + 59), Verdict::kGranted);
  EXPECT_EQ(signer.Check(kStream, query, kNow + 60), Verdict::kExpired);
  EXPECT_EQ(signer.Check(kStream, query, kNow + 100000), Verdict::kExpired);
  // The parameters in the other order are the same URL.
  const std::string swapped = "sig=" + SigOf(query) + "&expires=" + std::to_string(kNow + 60);
  EXPECT_EQ(signer.Check(kStream, swapped, kNow), Verdict::kGranted);
}

TEST(CameraUrlSigner, ATamperedSignatureAnotherPathOrALaterExpiryIsInvalid) {
  const UrlSigner signer(NewShareKey());
  const std::string query = signer.Query(kStream, kNow + 60);
  std::string tampered = query;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(signer.Check(kStream, tampered, kNow), Verdict::kInvalid);
  EXPECT_EQ(signer.Check("/snapshot.jpg", query, kNow), Verdict::kInvalid);
  const std::string extended = "expires=" + std::to_string(kNow + 86400) + "&sig=" + SigOf(query);
  EXPECT_EQ(signer.Check(kStream, extended, kNow), Verdict::kInvalid);
  // Signed with another key.
  const UrlSigner stranger(NewShareKey());
  EXPECT_EQ(signer.Check(kStream, stranger.Query(kStream, kNow + 60), kNow), Verdict::kInvalid);
}

TEST(CameraUrlSigner, ExpiredIsSaidOnlyOfAGenuineUrl) {
  const UrlSigner signer(NewShareKey());
  const std::string old = "expires=" + std::to_string(kNow - 10) + "&sig=" + std::string(64, 'a');
  EXPECT_EQ(signer.Check(kStream, old, kNow), Verdict::kInvalid);
  EXPECT_EQ(signer.Check(kStream, signer.Query(kStream, kNow - 10), kNow), Verdict::kExpired);
}

TEST(CameraUrlSigner, WithoutBothPartsTheSignatureIsMissing) {
  const UrlSigner signer(NewShareKey());
  const std::string query = signer.Query(kStream, kNow + 60);
  EXPECT_EQ(signer.Check(kStream, "", kNow), Verdict::kMissing);
  EXPECT_EQ(signer.Check(kStream, "expires=" + std::to_string(kNow + 60), kNow), Verdict::kMissing);
  EXPECT_EQ(signer.Check(kStream, "sig=" + SigOf(query), kNow), Verdict::kMissing);
}

TEST(CameraUrlSigner, AnythingMalformedIsInvalid) {
  const UrlSigner signer(NewShareKey());
  const std::string query = signer.Query(kStream, kNow + 60);
  const std::string sig = SigOf(query);
  const std::string expires = std::to_string(kNow + 60);
  for (const std::string& bad : {
           query + "&expires=" + expires,                       // a part twice
           query + "&sig=" + sig,                               //
           query + "&user=admin",                               // a part of no use
           query + "&",                                         // an empty part
           "expires&sig=" + sig,                                // no value
           "expires=+" + expires + "&sig=" + sig,               // a sign
           "expires=-1&sig=" + sig,                             //
           "expires= " + expires + "&sig=" + sig,               // a space
           "expires=&sig=" + sig,                               // no digits
           "expires=0x6553F100&sig=" + sig,                     // not decimal
           "expires=" + std::string(12, '9') + "&sig=" + sig,   // too many digits
           "expires=" + expires + "&sig=" + sig.substr(1),      // a digit short
           "expires=" + expires + "&sig=" + sig + "0",          // a digit long
           "expires=" + expires + "&sig=" + sig.substr(0, 62) + "zz",  // not hex
           "expires=" + expires + "&sig=%32" + sig.substr(1),   // percent-encoded
           query + std::string(200, 'x'),                       // oversized
           std::string(100000, '&'),                            //
       }) {
    EXPECT_EQ(signer.Check(kStream, bad, kNow), Verdict::kInvalid) << bad.substr(0, 120);
  }
}

TEST(CameraUrlSigner, ANewKeyEndsEveryUrlSignedBefore) {
  UrlSigner signer(NewShareKey());
  const std::string before = signer.Query(kStream, kNow + 60);
  signer.Replace(NewShareKey());
  EXPECT_EQ(signer.Check(kStream, before, kNow), Verdict::kInvalid);
  EXPECT_EQ(signer.Check(kStream, signer.Query(kStream, kNow + 60), kNow), Verdict::kGranted);
}

TEST(CameraUrlSigner, RefusalsSayOnlyOneWord) {
  EXPECT_EQ(RefusalWord(Verdict::kGranted), "");
  EXPECT_EQ(RefusalWord(Verdict::kMissing), "missing");
  EXPECT_EQ(RefusalWord(Verdict::kExpired), "expired");
  EXPECT_EQ(RefusalWord(Verdict::kInvalid), "invalid");
}

TEST(CameraShareKey, KeysAreRandom) { EXPECT_NE(NewShareKey(), NewShareKey()); }

TEST(CameraShareKey, TheFileKeepsTheKeyForItsOwnerOnly) {
  const testing::TempDir dir("domian-share-key-test");
  const std::filesystem::path file = dir.path() / "share_key";
  EXPECT_EQ(ReadShareKey(file), std::nullopt) << "no file yet";
  // One left behind with looser permissions is not trusted with the key.
  std::ofstream(file) << "old";
  ::chmod(file.c_str(), 0644);
  const ShareKey key = NewShareKey();
  WriteShareKey(file, key);
  EXPECT_EQ(ReadShareKey(file), key);
  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U);
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".new"));
}

TEST(CameraShareKey, AFileThatIsNotAKeyIsRefusedNamingIt) {
  const testing::TempDir dir("domian-share-key-test");
  const std::filesystem::path file = dir.path() / "share_key";
  const std::string newer = R"({"format": 2, "key": ")" + std::string(64, 'a') + "\"}";
  for (const std::string& content : {std::string("garbage"), std::string(R"({"format": 1, "key": "ab"})"), newer}) {
    std::ofstream(file, std::ios::trunc) << content;
    try {
      ReadShareKey(file);
      ADD_FAILURE() << content << " was taken for a key";
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr(file.string()));
    }
  }
}

}  // namespace
}  // namespace domian::camera
