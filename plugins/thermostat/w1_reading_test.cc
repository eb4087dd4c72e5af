// Readings as the w1 sysfs interface gives them, built by the tests with
// real Dallas CRC-8 bytes (tests/support/w1_sysfs.h), and the bus reader
// against such a tree: vanished sensors, slow and hung reads, one read at
// a time.
#include "plugins/thermostat/w1_reading.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugins/thermostat/sensor_bus.h"
#include "tests/support/cluster.h"
#include "tests/support/w1_sysfs.h"

namespace domian::thermostat {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::W1Sysfs;

TEST(DallasCrc8, MatchesKnownSensorBytesAndTheIndependentTable) {
  // From a real DS18B20 (crc=57) and Maxim's application note 27 (a2).
  const std::vector<uint8_t> scratchpad = {0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10};
  EXPECT_EQ(DallasCrc8(scratchpad), 0x57);
  const std::vector<uint8_t> rom = {0x02, 0x1c, 0xb8, 0x01, 0x00, 0x00, 0x00};
  EXPECT_EQ(DallasCrc8(rom), 0xa2);
  EXPECT_EQ(testing::W1Crc8(scratchpad), 0x57);
  EXPECT_EQ(testing::W1Crc8(rom), 0xa2);
}

TEST(ParseW1Slave, GoodAndNegativeReadings) {
  EXPECT_EQ(ParseW1Slave(testing::W1SlaveText(23125)).celsius, 23.125);
  EXPECT_EQ(ParseW1Slave(testing::W1SlaveText(-10125)).celsius, -10.125);
  EXPECT_EQ(ParseW1Slave(testing::W1SlaveText(0)).celsius, 0.0);
  EXPECT_EQ(ParseW1Slave("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n"
                         "72 01 4b 46 7f ff 0e 10 57 t=23125\n")
                .celsius,
            23.125);
}

TEST(ParseW1Slave, ReadingsThatMustNeverBeTrusted) {
  struct Case {
    std::string text;
    std::string problem;
  };
  for (const Case& c : std::vector<Case>{
           {testing::W1SlaveCrcNo(), "CRC check failed"},
           {testing::W1SlaveAllZeros(), "all-zero bytes"},
           {testing::W1SlaveText(85000), "power-on value"},
           {"", "empty read"},
           {"\n", "empty read"},
           {"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES", "only one line"},
           // The kernel said YES, but the bytes do not match their CRC.
           {"72 01 4b 46 7f ff 0e 10 58 : crc=58 YES\n72 01 4b 46 7f ff 0e 10 58 t=23125\n",
            "scratchpad CRC does not match"},
           {"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=abc\n",
            "not a number"},
           {"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57\n", "no t="},
           {testing::W1SlaveText(130000), "outside the sensor's range"},
           // A t= that the CRC-checked bytes (23.125 °C) do not say.
           {"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=99999\n",
            "does not match the scratchpad bytes"},
           {"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125junk\n",
            "not a number"},
       }) {
    const Reading reading = ParseW1Slave(c.text);
    EXPECT_FALSE(reading.valid()) << c.text;
    EXPECT_THAT(reading.problem, HasSubstr(c.problem)) << c.text;
  }
}

class Bus : public ::testing::Test {
 protected:
  TempDir dir_{"domian-w1-test"};
  W1Sysfs sysfs_{dir_.path() / "devices"};
};

TEST_F(Bus, AVanishedSensorIsReported) {
  const Reading missing = SensorBus::ReadSensor(sysfs_.root() / "28-000000000001" / "w1_slave", 1s);
  EXPECT_FALSE(missing.valid());
  EXPECT_THAT(missing.problem, HasSubstr("vanished"));
}

TEST_F(Bus, ASlowReadIsWaitedForAndAHungOneTimesOut) {
  sysfs_.Slow("28-000000000001", testing::W1SlaveText(21500), 400ms);
  const auto began = std::chrono::steady_clock::now();
  EXPECT_EQ(SensorBus::ReadSensor(sysfs_.root() / "28-000000000001" / "w1_slave", 3s).celsius, 21.5);
  EXPECT_GE(std::chrono::steady_clock::now() - began, 400ms);

  sysfs_.Slow("28-000000000002", testing::W1SlaveText(21500), 5s);
  const auto hung = std::chrono::steady_clock::now();
  const Reading reading = SensorBus::ReadSensor(sysfs_.root() / "28-000000000002" / "w1_slave", 300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - hung, 2s);
  EXPECT_THAT(reading.problem, HasSubstr("timed out"));
}

TEST_F(Bus, FindsEverySensorReadsOneAtATimeAndNoticesOneVanishing) {
  const auto a = sysfs_.Slow("28-00000000000a", testing::W1SlaveText(20000), 300ms);
  const auto b = sysfs_.Slow("28-00000000000b", testing::W1SlaveText(22000), 300ms);
  std::filesystem::create_directories(sysfs_.root() / "00-200000000000");  // not a DS18B20
  SensorBus bus(sysfs_.root(), {}, 50ms, kDefaultMaxDropCPerMin, [&](const std::string&) {});
  bus.Start();
  ASSERT_TRUE(testing::Eventually(
      [&] {
        const auto sensors = bus.Snapshot();
        return sensors.size() == 2 && sensors[0].celsius && sensors[1].celsius;
      },
      10s));
  // b was opened only after a had been answered (a's answer comes 300 ms
  // after a was opened): one conversion at a time.
  EXPECT_GE(b->opened_ns.load(),
            a->opened_ns.load() + std::chrono::nanoseconds(300ms).count());
  auto sensors = bus.Snapshot();
  EXPECT_EQ(sensors[0].id, "28-00000000000a");
  EXPECT_EQ(*sensors[0].celsius, 20.0);
  EXPECT_EQ(*sensors[1].celsius, 22.0);

  sysfs_.Vanish("28-00000000000b");
  // Generous: a's FIFO now has no writer, so each read of it takes the
  // whole 3 s read timeout.
  ASSERT_TRUE(testing::Eventually(
      [&] {
        sensors = bus.Snapshot();
        return sensors.size() == 2 && !sensors[1].present;
      },
      30s));
  EXPECT_THAT(sensors[1].problem, HasSubstr("vanished"));
  EXPECT_EQ(*sensors[1].celsius, 22.0);  // the last valid one, which ages from here
  bus.Stop();
}

}  // namespace
}  // namespace domian::thermostat
