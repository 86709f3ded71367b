#include "base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sb {

namespace {

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Writes `contents` to FILE.tmp with `mode` (whatever the umask), syncs it, and renames it over
// `file`, so readers see the old or the new contents, never a mix.
Status WriteWithMode(const std::string& file, const std::string& contents, mode_t mode) {
  std::string tmp = file + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::IoError(Errno("cannot create " + tmp));
  if (::fchmod(fd, mode) != 0) {  // the umask must not loosen or tighten it
    Status s = Status::IoError(Errno("cannot set the mode of " + tmp));
    ::close(fd);
    return s;
  }
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Status::IoError(Errno("cannot write " + tmp));
      ::close(fd);
      return s;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Status::IoError(Errno("cannot sync " + tmp));
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return Status::IoError(Errno("cannot close " + tmp));
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    return Status::IoError(Errno("cannot rename " + tmp));
  }
  return Status::Ok();
}

}  // namespace

Status WriteSecretFile(const std::string& file, const std::string& contents) {
  return WriteWithMode(file, contents, 0600);
}

Status WriteFileAtomic(const std::string& file, const std::string& contents) {
  return WriteWithMode(file, contents, 0644);
}

Result<std::string> ReadFile(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + file);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read " + file);
  return ss.str();
}

Result<std::string> ReadSecretFile(const std::string& file) {
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) return Status::NotFound(Errno("cannot read " + file));
  if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return Status::PermissionDenied(file + " may be read by other users (mode " + mode +
                                    "); run: chmod 600 " + file);
  }
  return ReadFile(file);
}

}  // namespace sb
