#pragma once
// The answer to a command whose record the log may have taken while nothing will tell this
// instance in time (a failed delivery, a ttl past its grace, a shutdown).
#include <string>

#include "domain/result.h"

namespace parley {

inline Error unknown_outcome(const std::string& why) {
  Error e = make_error(Errc::unavailable,
                       why +
                           "; its outcome is unknown (a send may be retried with the same "
                           "client_msg_id)");
  e.outcome_unknown = true;
  return e;
}

}  // namespace parley
