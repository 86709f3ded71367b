// Lower-case hexadecimal for binary values in JSON, files and logs (keys, nonces, digests).
// Through libsodium, whose conversions take the same time whatever the bytes: some are secrets.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace sb {

std::string ToHex(std::string_view bytes);
// Corruption unless `hex` is an even number of hex digits.
Result<std::string> FromHex(std::string_view hex);

}  // namespace sb
