// Join codes: their base32, the round trip, and that every malformed
// part is named without the secret showing up in the message.
#include "core/trust/join_code.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "core/trust/pki.h"

namespace domian::trust {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFingerprint[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

JoinCode Example() {
  JoinCode code;
  code.id = "abcd2345";
  code.secret = std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\xff", 16);
  code.fingerprint = kFingerprint;
  code.members = {"192.168.1.20:7420", "kitchen-pi.local:7420"};
  return code;
}

TEST(Base32Test, Rfc4648Vectors) {
  // RFC 4648 section 10, lowercase and without padding.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "my"},
      {"fo", "mzxq"},
      {"foo", "mzxw6"},
      {"foob", "mzxw6yq"},
      {"fooba", "mzxw6ytb"},
      {"foobar", "mzxw6ytboi"},
  };
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(Base32Encode(bytes), text) << bytes;
    EXPECT_EQ(Base32Decode(text).value(), bytes) << text;
  }
}

TEST(Base32Test, RoundTripsEveryLength) {
  for (size_t length = 0; length <= 40; ++length) {
    std::string bytes = RandomBytes(length);
    std::string text = Base32Encode(bytes);
    EXPECT_EQ(text.size(), (length * 8 + 4) / 5);
    EXPECT_EQ(Base32Decode(text).value(), bytes);
  }
}

TEST(Base32Test, DecodeRefusesAnythingElse) {
  for (const char* text : {"MZXW6", "mzxw6===", "mzxw1", "mzx w6", "m", "mzx", "mzxw6y",
                           "mzxw6ytbo",  // 9 characters: 1 left over
                           "mz",         // 'z' sets bits past the one byte
                           "mzxw7"}) {   // likewise past three bytes
    EXPECT_EQ(Base32Decode(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(JoinCodeTest, RoundTrips) {
  JoinCode code = Example();
  std::string text = FormatJoinCode(code);
  EXPECT_TRUE(text.starts_with("dj1-abcd2345-"));
  EXPECT_TRUE(text.ends_with("@192.168.1.20:7420,kitchen-pi.local:7420"));
  // dj1- id - 26 - 52 @ members
  EXPECT_EQ(text.find('@'), 4 + 8 + 1 + 26 + 1 + 52u);
  EXPECT_EQ(ParseJoinCode(text).value(), code);
}

TEST(JoinCodeTest, RoundTripsFreshCodes) {
  Authority ca = NewAuthority("home").value();
  JoinCode code{NewInviteId(),
                RandomBytes(kSecretBytes),
                Fingerprint(ca.cert_pem).value(),
                {"[fd00::10]:7420"}};
  EXPECT_EQ(ParseJoinCode(FormatJoinCode(code)).value(), code);
}

TEST(JoinCodeTest, IgnoresWhiteSpaceAround) {
  JoinCode code = Example();
  EXPECT_EQ(ParseJoinCode("  \t" + FormatJoinCode(code) + "\r\n").value(), code);
}

TEST(JoinCodeTest, RefusesEveryMalformedPartWithoutShowingTheSecret) {
  JoinCode code = Example();
  const std::string good = FormatJoinCode(code);
  const std::string secret = Base32Encode(code.secret);
  const std::string fingerprint = good.substr(good.find(secret) + secret.size() + 1, 52);
  const std::string members = "@192.168.1.20:7420";
  auto with = [&](const std::string& id, const std::string& secret_text,
                  const std::string& fingerprint_text, const std::string& tail) {
    return "dj1-" + id + "-" + secret_text + "-" + fingerprint_text + tail;
  };

  const std::pair<std::string, const char*> cases[] = {
      {"", "does not start with dj1-"},
      {"dj2" + good.substr(3), "does not start with dj1-"},
      {good.substr(0, good.find('@')), "no @"},
      {with("abcd2345", secret, fingerprint, "-x" + members), "not dj1-<id>"},
      {"dj1-abcd2345-" + secret + members, "not dj1-<id>"},
      {with("abcd234", secret, fingerprint, members), "invitation id"},
      {with("ABCD2345", secret, fingerprint, members), "invitation id"},
      {with("abcd2341", secret, fingerprint, members), "invitation id"},
      {with("abcd2345", secret.substr(0, 25), fingerprint, members), "the secret"},
      {with("abcd2345", secret + "a", fingerprint, members), "the secret"},
      {with("abcd2345", secret.substr(0, 25) + "1", fingerprint, members), "the secret"},
      {with("abcd2345", secret.substr(0, 24) + "ZZ", fingerprint, members), "the secret"},
      {with("abcd2345", secret, fingerprint.substr(1), members), "fingerprint"},
      {with("abcd2345", secret, fingerprint.substr(0, 51) + "9", members), "fingerprint"},
      {with("abcd2345", secret, fingerprint, "@"), "no member"},
      {with("abcd2345", secret, fingerprint, "@pi:7420,"), "member '' is not"},
      {with("abcd2345", secret, fingerprint, "@pi"), "member 'pi' is not"},
      {with("abcd2345", secret, fingerprint, "@pi:99999"), "member 'pi:99999'"},
      {with("abcd2345", secret, fingerprint, "@a:1,b:1,c:1,d:1,e:1"), "more than 4 members"},
      {good + std::string(kMaxCodeChars, 'x'), "longer than 512"},
  };
  for (const auto& [text, reason] : cases) {
    absl::StatusOr<JoinCode> parsed = ParseJoinCode(text);
    ASSERT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(reason)) << text;
    EXPECT_THAT(parsed.status().message(), Not(HasSubstr(secret.substr(0, 8)))) << text;
    EXPECT_THAT(parsed.status().message(), Not(HasSubstr(secret.substr(18)))) << text;
  }
  EXPECT_TRUE(ParseJoinCode(with("abcd2345", secret, fingerprint, "@a:1,b:1,c:1,d:1")).ok());
}

TEST(NewInviteIdTest, IsEightBase32Characters) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewInviteId();
    EXPECT_EQ(id.size(), kInviteIdChars);
    EXPECT_EQ(id.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567"), std::string::npos);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

}  // namespace
}  // namespace domian::trust
