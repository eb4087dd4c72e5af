// The benchmarks' command lines (Boost.Program_options), parsed alike.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>
#include <optional>

namespace domian::bench {

// Parses into `args`. Returns the exit code when the program should stop
// here: 0 after --help, 2 on a usage error (printed with the options).
inline std::optional<int> ParseCommandLine(int argc, char** argv,
                                           const boost::program_options::options_description& options,
                                           boost::program_options::variables_map& args) {
  namespace po = boost::program_options;
  try {
    po::store(po::parse_command_line(argc, argv, options), args);
    if (args.count("help")) {
      std::cout << options;
      return 0;
    }
    po::notify(args);
  } catch (const po::error& error) {
    std::cerr << error.what() << "\n" << options;
    return 2;
  }
  return std::nullopt;
}

}  // namespace domian::bench
