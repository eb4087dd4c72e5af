// ServingStatus against a recording health service: the order of ready,
// drain and attach, as the node's threads may make them.
#include "core/rpc/serving_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>

namespace domian::rpc {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// What gRPC's default health service would answer for each name it was
// told about (a name never told is NOT_FOUND there).
class RecordingHealth final : public grpc::HealthCheckServiceInterface {
 public:
  void SetServingStatus(const std::string& service_name, bool serving) override {
    status[service_name] = serving;
    ++changes;
  }
  void SetServingStatus(bool serving) override {
    for (auto& [name, status_of] : status) status_of = serving;
    ++changes;
  }

  std::map<std::string, bool> status;
  int changes = 0;
};

TEST(ServingStatusTest, NotServingFromTheStartThenServingWhenReady) {
  RecordingHealth health;
  ServingStatus status;
  status.Attach(&health);
  EXPECT_THAT(health.status, ElementsAre(Pair("", false), Pair("domian.v1.Domain", false)));
  EXPECT_FALSE(status.serving());
  status.Ready();
  EXPECT_THAT(health.status, ElementsAre(Pair("", true), Pair("domian.v1.Domain", true)));
  EXPECT_TRUE(status.serving());
}

TEST(ServingStatusTest, DrainingIsForGood) {
  RecordingHealth health;
  ServingStatus status;
  status.Attach(&health);
  status.Ready();
  status.Drain();
  EXPECT_THAT(health.status, ElementsAre(Pair("", false), Pair("domian.v1.Domain", false)));
  // Placement's thread may still finish a round while the node stops.
  status.Ready();
  EXPECT_THAT(health.status, ElementsAre(Pair("", false), Pair("domian.v1.Domain", false)));
  EXPECT_FALSE(status.serving());
}

TEST(ServingStatusTest, WhatCameBeforeTheServerIsReportedWhenItIsAttached) {
  RecordingHealth health;
  ServingStatus status;
  status.Ready();
  status.Attach(&health);
  EXPECT_THAT(health.status, ElementsAre(Pair("", true), Pair("domian.v1.Domain", true)));

  RecordingHealth stopping;
  ServingStatus drained;
  drained.Ready();
  drained.Drain();
  drained.Attach(&stopping);
  EXPECT_THAT(stopping.status, ElementsAre(Pair("", false), Pair("domian.v1.Domain", false)));
}

TEST(ServingStatusTest, WithoutAHealthServiceNothingIsReported) {
  ServingStatus status;
  status.Attach(nullptr);
  status.Ready();
  EXPECT_TRUE(status.serving());
  status.Drain();
  EXPECT_FALSE(status.serving());
}

// Ready from placement's thread racing Drain from the main thread: the
// last word the health service hears is NOT_SERVING, whoever wins.
TEST(ServingStatusTest, AReadyRacingADrainNeverLeavesItServing) {
  for (int i = 0; i < 200; ++i) {
    RecordingHealth health;
    ServingStatus status;
    status.Attach(&health);
    std::thread placement([&status] { status.Ready(); });
    status.Drain();
    placement.join();
    ASSERT_THAT(health.status, ElementsAre(Pair("", false), Pair("domian.v1.Domain", false)))
        << "round " << i;
  }
}

}  // namespace
}  // namespace domian::rpc
