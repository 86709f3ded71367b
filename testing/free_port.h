// A TCP port for a daemon under test to listen on.
#pragma once

#include "base/status.h"

namespace sb::testing {

// A TCP port on 127.0.0.1 that was free a moment ago: bound with port 0 (the kernel picks
// it), read and closed. Free until someone else takes it.
Result<int> FreePort();

}  // namespace sb::testing
