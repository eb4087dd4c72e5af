#include "core/membership/view_digest.h"

#include <algorithm>

namespace domian::membership {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

void Mix(uint64_t& hash, uint8_t byte) {
  hash ^= byte;
  hash *= kFnvPrime;
}

void MixLittleEndian(uint64_t& hash, uint64_t value) {
  for (int i = 0; i < 8; ++i) Mix(hash, static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace

uint64_t ViewDigest(std::vector<DigestEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const DigestEntry& a, const DigestEntry& b) { return a.id < b.id; });
  uint64_t hash = kFnvOffset;
  for (const DigestEntry& entry : entries) {
    for (const char c : entry.id) Mix(hash, static_cast<uint8_t>(c));
    Mix(hash, 0);
    MixLittleEndian(hash, entry.incarnation);
    MixLittleEndian(hash, entry.revision);
    Mix(hash, entry.dead ? 1 : 0);
  }
  return hash;
}

}  // namespace domian::membership
