// Names of peer states as people and scripts see them.
#include "core/membership/identity.h"

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

}  // namespace domian
