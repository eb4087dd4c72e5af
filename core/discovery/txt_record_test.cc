#include "core/discovery/txt_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace domian::discovery {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const Advertisement kAd{"kitchen-pi", "home", "0.2.0", 1};

std::string ErrorOf(const std::vector<std::string>& entries) {
  const auto parsed = ParseTxt(entries);
  return parsed.ok() ? std::string("(accepted)") : StatusMessage(parsed.status());
}

TEST(TxtRecordTest, EncodesTxtversFirstThenEveryField) {
  EXPECT_THAT(EncodeTxt(kAd), ElementsAre("txtvers=1", "id=kitchen-pi", "cluster=home",
                                          "version=0.2.0", "proto=1"));
}

TEST(TxtRecordTest, WhatIsEncodedParsesBack) {
  const auto parsed = ParseTxt(EncodeTxt(kAd));
  ASSERT_TRUE(parsed.ok()) << ErrorOf(EncodeTxt(kAd));
  EXPECT_EQ(*parsed, kAd);
}

TEST(TxtRecordTest, KeysAreCaseInsensitiveAndUnknownKeysAndFlagsAreIgnored) {
  const auto parsed = ParseTxt({"TxtVers=1", "ID=kitchen-pi", "Cluster=home", "future=x",
                                "flag", "version=0.2.0", "proto=1", "=empty-key"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, kAd);
}

TEST(TxtRecordTest, ARepeatedKeyWithTheSameValueIsHarmless) {
  auto entries = EncodeTxt(kAd);
  entries.push_back("id=kitchen-pi");
  EXPECT_TRUE(ParseTxt(entries).ok());
}

TEST(TxtRecordTest, RefusesRecordsThatAreNotADomains) {
  EXPECT_EQ(ErrorOf({}), "no usable txtvers");
  EXPECT_EQ(ErrorOf({"txtvers=one", "id=a"}), "no usable txtvers");
  EXPECT_EQ(ErrorOf({"txtvers=1", "cluster=home", "version=1.0.0", "proto=1"}), "no id");
  EXPECT_EQ(ErrorOf({"txtvers=1", "id=a", "version=1.0.0", "proto=1"}), "no cluster");
  EXPECT_EQ(ErrorOf({"txtvers=1", "id=a", "cluster=home", "proto=1"}), "no version");
  EXPECT_EQ(ErrorOf({"txtvers=1", "id=a", "cluster=home", "version=1.0.0"}), "no proto");
}

TEST(TxtRecordTest, RefusesInvalidValuesAndQuotesThemPrintably) {
  EXPECT_EQ(ErrorOf({"txtvers=1", "id=a b\x01", "cluster=home", "version=1.0.0", "proto=1"}),
            "invalid id 'a b?'");
  EXPECT_EQ(ErrorOf({"txtvers=1", "id=a", "cluster=Home", "version=1.0.0", "proto=1"}),
            "invalid cluster 'Home'");
  EXPECT_EQ(ErrorOf({"txtvers=1", "id=a", "cluster=home", "version=1.0", "proto=1"}),
            "invalid version '1.0'");
  EXPECT_EQ(ErrorOf({"txtvers=1", "id=a", "cluster=home", "version=1.0.0", "proto=0"}),
            "invalid proto '0'");
  EXPECT_EQ(ErrorOf({"txtvers=1", "id=a", "cluster=home", "version=1.0.0", "proto=-1"}),
            "invalid proto '-1'");
  EXPECT_EQ(ErrorOf({"txtvers=1", "id=" + std::string(65, 'x'), "cluster=home",
                     "version=1.0.0", "proto=1"}),
            "invalid id '" + std::string(64, 'x') + "...'");
}

TEST(TxtRecordTest, RefusesContradictoryRepeatedKeys) {
  auto entries = EncodeTxt(kAd);
  entries.push_back("ID=someone-else");
  EXPECT_EQ(ErrorOf(entries), "the key 'id' is given twice with different values");
}

TEST(TxtRecordTest, RefusesOversizedRecords) {
  auto entries = EncodeTxt(kAd);
  entries.push_back("pad=" + std::string(252, 'x'));  // 256 bytes: over a DNS string
  EXPECT_EQ(ErrorOf(entries), "a TXT string of 256 bytes");

  entries = EncodeTxt(kAd);
  for (int i = 0; i < 6; ++i) entries.push_back("p" + std::to_string(i) + "=" + std::string(240, 'x'));
  EXPECT_THAT(ErrorOf(entries), HasSubstr("over the limit of 1300"));

  entries = EncodeTxt(kAd);
  for (int i = 0; i < 40; ++i) entries.push_back("k" + std::to_string(i) + "=v");
  EXPECT_THAT(ErrorOf(entries), HasSubstr("more than the 32 a domain sends"));
}

TEST(TxtRecordTest, InstanceNameIsTheIdCutToOneDnsLabel) {
  EXPECT_EQ(InstanceName("kitchen-pi"), "kitchen-pi");
  EXPECT_EQ(InstanceName(std::string(64, 'a')).size(), kMaxInstanceNameBytes);
}

}  // namespace
}  // namespace domian::discovery
