// Names of peer states as people and scripts see them.
#include "core/model/identity.h"

#include "core/common/utf8.h"

namespace domian {

std::string_view PeerStateName(PeerState state) {
  switch (state) {
    case PeerState::kAlive:
      return "alive";
    case PeerState::kSuspect:
      return "suspect";
    case PeerState::kDead:
      return "dead";
  }
  return "unknown";
}

std::string BoundedDetail(std::string detail) {
  detail = ToValidUtf8(std::move(detail));
  if (detail.size() <= kMaxServiceDetailBytes) return detail;
  constexpr std::string_view kCut = "...";
  size_t end = kMaxServiceDetailBytes - kCut.size();
  // Back off over UTF-8 continuation bytes (10xxxxxx) to a character start.
  while (end > 0 && (static_cast<unsigned char>(detail[end]) & 0xC0) == 0x80) --end;
  detail.resize(end);
  return detail + std::string(kCut);
}

}  // namespace domian
