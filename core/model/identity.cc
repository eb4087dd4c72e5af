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
  return BoundedText(std::move(detail), kMaxServiceDetailBytes);
}

}  // namespace domian
