// What the plugin benchmarks (lights, thermostat, speaker, camera) share:
// their main() and the rows of their report tables.
//
//   NAME_bench --scenario S [--COUNT N ...]   runs one scenario, prints its JSON object
//   NAME_bench --report FILE                   prints this bench's rows of a results file
#pragma once

#include <boost/program_options.hpp>

#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/command_line.h"
#include "bench/percentile.h"

namespace domian::bench {

// One row of a report table; the first row is the heading.
inline void PrintRow(const std::string& scenario, const std::string& goal, const std::string& measured,
                     const std::string& verdict) {
  constexpr int kScenarioWidth = 48;
  constexpr int kGoalWidth = 22;
  constexpr int kMeasuredWidth = 44;
  std::cout << std::left << std::setw(kScenarioWidth) << scenario << std::setw(kGoalWidth) << goal
            << std::setw(kMeasuredWidth) << measured << verdict << "\n";
}

// "p50 X p99 Y max Z ms" of a Summary().
inline std::string MeasuredMs(const nlohmann::json& summary, int digits) {
  return "p50 " + Fixed(summary["p50"], digits) + " p99 " + Fixed(summary["p99"], digits) + " max " +
         Fixed(summary["max"], digits) + " ms";
}

inline std::string Verdict(bool met) { return met ? "met" : "MISSED"; }

// A whole-number option of the bench (--trials, --calls, --seconds).
struct Count {
  const char* name;
  int default_value;
  const char* help;
};

struct Scenario {
  const char* name;
  std::function<nlohmann::json(const std::map<std::string, int>& counts)> run;
};

// The bench's main(): `report_result` prints the rows of one result of
// this bench (it ignores others) under the heading `table`.
inline int PluginBenchMain(int argc, char** argv, const std::string& program, const std::string& table,
                           const std::vector<Count>& counts, const std::vector<Scenario>& scenarios,
                           const std::function<void(const nlohmann::json&)>& report_result) {
  namespace po = boost::program_options;
  std::string names;
  for (const Scenario& scenario : scenarios) names += (names.empty() ? "" : "|") + std::string(scenario.name);
  po::options_description options(program);
  options.add_options()("scenario", po::value<std::string>(), names.c_str());
  for (const Count& count : counts) {
    options.add_options()(count.name, po::value<int>()->default_value(count.default_value), count.help);
  }
  options.add_options()("report", po::value<std::string>(), "print this bench's rows of a results file and exit")
      ("help,h", "this help");
  po::variables_map args;
  if (const auto stop = ParseCommandLine(argc, argv, options, args)) return *stop;
  if (args.count("report")) {
    std::ifstream in(args["report"].as<std::string>());
    const nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.contains("results")) {
      std::cerr << program << ": " << args["report"].as<std::string>() << " is not a results file\n";
      return 1;
    }
    PrintRow(table, "goal", "measured", "verdict");
    for (const auto& result : doc["results"]) report_result(result);
    return 0;
  }
  const std::string asked = args.count("scenario") ? args["scenario"].as<std::string>() : "";
  const Scenario* scenario = nullptr;
  for (const Scenario& candidate : scenarios) {
    if (asked == candidate.name) scenario = &candidate;
  }
  if (scenario == nullptr) {
    std::cerr << "--scenario " << names << " or --report is required\n" << options;
    return 2;
  }
  std::map<std::string, int> values;
  for (const Count& count : counts) {
    values[count.name] = args[count.name].as<int>();
    if (values[count.name] < 1) {
      std::cerr << "--" << count.name << " must be at least 1\n";
      return 2;
    }
  }
  try {
    std::cout << scenario->run(values).dump() << "\n";
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace domian::bench
