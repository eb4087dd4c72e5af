// Login links and sessions: a link opens one session once, within its
// time; sessions end when idle and when the book is full (the idlest
// first); what they are made of cannot be guessed.
#include "core/web/sessions.h"

#include <gtest/gtest.h>

#include <set>

namespace domian::web {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(RandomTokenTest, Is256BitsOfBase64Url) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const absl::StatusOr<std::string> token = RandomToken();
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(token->size(), 43u);  // 32 bytes, no padding
    EXPECT_EQ(token->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_"),
              std::string::npos)
        << *token;
    EXPECT_TRUE(seen.insert(*token).second);
  }
}

class SessionBookTest : public ::testing::Test {
 protected:
  std::string Link() {
    absl::StatusOr<std::string> token = book_.NewLoginToken();
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }
  std::string Login() {
    absl::StatusOr<std::string> session = book_.Redeem(Link());
    EXPECT_TRUE(session.ok()) << session.status();
    return session.value_or("");
  }

  FakeClock clock_;
  SessionBook book_{clock_};
};

TEST_F(SessionBookTest, ALinkOpensOneSessionOnce) {
  const std::string link = Link();
  const absl::StatusOr<std::string> session = book_.Redeem(link);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_NE(*session, link);
  EXPECT_TRUE(book_.Use(*session));
  const absl::StatusOr<std::string> again = book_.Redeem(link);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(again.status().message().find("domianctl dashboard"), std::string::npos);
  EXPECT_EQ(book_.sessions(), 1u);
}

TEST_F(SessionBookTest, ALinkExpiresAfterFiveMinutes) {
  const std::string fresh = Link();
  const std::string stale = Link();
  clock_.Advance(minutes(4) + seconds(59));
  EXPECT_TRUE(book_.Redeem(fresh).ok());
  clock_.Advance(seconds(1));
  EXPECT_FALSE(book_.Redeem(stale).ok());
}

TEST_F(SessionBookTest, OnlyTokensItMadeOpenSessions) {
  const std::string link = Link();
  for (const std::string& guess :
       {std::string(), std::string(43, 'A'), link.substr(0, 42), link + "A", link.substr(1)}) {
    EXPECT_FALSE(book_.Redeem(guess).ok()) << guess;
  }
  // A session id is no login link, nor a link a session.
  const std::string session = Login();
  EXPECT_FALSE(book_.Redeem(session).ok());
  EXPECT_FALSE(book_.Use(link));
  EXPECT_TRUE(book_.Redeem(link).ok());
}

TEST_F(SessionBookTest, UnusedLinksAreBoundedOldestFirst) {
  const std::string oldest = Link();
  std::vector<std::string> links;
  for (size_t i = 0; i < kMaxLoginLinks; ++i) links.push_back(Link());
  EXPECT_FALSE(book_.Redeem(oldest).ok());
  for (const std::string& link : links) EXPECT_TRUE(book_.Redeem(link).ok());
}

TEST_F(SessionBookTest, ASessionEndsAfterThirtyDaysIdle) {
  const std::string used = Login();
  const std::string idle = Login();
  for (int week = 0; week < 8; ++week) {
    clock_.Advance(hours(24 * 7));
    EXPECT_TRUE(book_.Use(used)) << "week " << week;
  }
  EXPECT_FALSE(book_.Use(idle));
  clock_.Advance(kSessionIdle - seconds(1));
  EXPECT_TRUE(book_.Use(used));
  clock_.Advance(kSessionIdle);
  EXPECT_FALSE(book_.Use(used));
  EXPECT_EQ(book_.sessions(), 0u);
}

TEST_F(SessionBookTest, AFullBookEndsTheIdlestSession) {
  std::vector<std::string> sessions;
  for (size_t i = 0; i < kMaxSessions; ++i) {
    sessions.push_back(Login());
    clock_.Advance(seconds(1));
  }
  // The first one was used lately: the second is the idlest now.
  EXPECT_TRUE(book_.Use(sessions[0]));
  const std::string newest = Login();
  EXPECT_EQ(book_.sessions(), kMaxSessions);
  EXPECT_TRUE(book_.Use(newest));
  EXPECT_TRUE(book_.Use(sessions[0]));
  EXPECT_FALSE(book_.Use(sessions[1]));
  EXPECT_TRUE(book_.Use(sessions[2]));
}

TEST_F(SessionBookTest, LimitsAreTheBooksOwn) {
  SessionBook small(clock_, {.link_ttl = seconds(10), .max_links = 1, .max_sessions = 1,
                             .session_idle = minutes(1)});
  const std::string first = *small.NewLoginToken();
  const std::string second = *small.NewLoginToken();
  EXPECT_FALSE(small.Redeem(first).ok());
  const std::string session = *small.Redeem(second);
  clock_.Advance(minutes(1));
  EXPECT_FALSE(small.Use(session));
}

}  // namespace
}  // namespace domian::web
