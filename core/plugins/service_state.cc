#include "core/plugins/service_state.h"

#include <fstream>
#include <sstream>

namespace domian::plugins {

std::optional<std::string> ReadServiceState(const std::filesystem::path& service_dir) {
  const std::filesystem::path file = service_dir / kServiceStateFile;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool WriteServiceState(const std::filesystem::path& service_dir, const std::string& state) {
  const std::filesystem::path file = service_dir / kServiceStateFile;
  const std::filesystem::path temporary = file.string() + ".new";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(state.data(), static_cast<std::streamsize>(state.size()));
    if (!out.flush()) return false;
  }
  std::error_code error;
  std::filesystem::rename(temporary, file, error);
  return !error;
}

}  // namespace domian::plugins
