// domian-w1-sysfs: writes a DS18B20 reading into a w1 sysfs tree the way
// the kernel's w1_therm driver shows it (real Dallas CRC-8 bytes), for
// scripts/demo and for trying the thermostat by hand without sensors.
//
//   domian-w1-sysfs ROOT SENSOR_ID MILLI_C     e.g. /tmp/w1 28-0000000a1b2c 18500
//   domian-w1-sysfs ROOT SENSOR_ID crc-no      a read whose CRC failed
#include <iostream>
#include <string>

#include "tests/support/w1_sysfs.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: domian-w1-sysfs ROOT SENSOR_ID MILLI_C|crc-no\n";
    return 2;
  }
  try {
    domian::testing::W1Sysfs sysfs(argv[1]);
    const std::string value = argv[3];
    if (value == "crc-no") {
      sysfs.Write(argv[2], domian::testing::W1SlaveCrcNo());
    } else {
      sysfs.Reading(argv[2], std::stoi(value));
    }
  } catch (const std::exception& e) {
    std::cerr << "domian-w1-sysfs: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
