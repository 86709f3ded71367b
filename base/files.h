// Small file helpers shared by every process: atomic writes, secret files (mode 0600; looser
// modes are refused when reading).
#pragma once

#include <string>

#include "base/status.h"

namespace sb {

Result<std::string> ReadFile(const std::string& file);
// Refuses a file that group or others may read: PermissionDenied naming `chmod 600 FILE`.
Result<std::string> ReadSecretFile(const std::string& file);
// Writes atomically (temp file, fsync, rename) with mode 0600 / 0644.
Status WriteSecretFile(const std::string& file, const std::string& contents);
Status WriteFileAtomic(const std::string& file, const std::string& contents);

}  // namespace sb
