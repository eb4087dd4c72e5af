#include "core/plugins/service_state.h"

#include <fstream>
#include <sstream>

namespace domian::plugins {

namespace {

std::optional<std::string> ReadFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes a new file and renames it over the old one.
bool ReplaceFile(const std::filesystem::path& file, const std::string& state) {
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

}  // namespace

std::optional<std::string> ReadServiceState(const std::filesystem::path& service_dir) {
  return ReadFile(service_dir / kServiceStateFile);
}

bool WriteServiceState(const std::filesystem::path& service_dir, const std::string& state) {
  return ReplaceFile(service_dir / kServiceStateFile, state);
}

uint64_t ReadServiceEpoch(const std::filesystem::path& service_dir) {
  const std::optional<std::string> text = ReadFile(service_dir / kServiceEpochFile);
  if (!text) return 0;
  try {
    return std::stoull(*text);
  } catch (const std::exception&) {
    return 0;
  }
}

bool WriteServiceEpoch(const std::filesystem::path& service_dir, uint64_t epoch) {
  return ReplaceFile(service_dir / kServiceEpochFile, std::to_string(epoch));
}

}  // namespace domian::plugins
