// A temporary directory that lives as long as its owner.
#pragma once

#include <string>

namespace sb::testing {

// A fresh directory /tmp/<prefix>-XXXXXX, removed with everything in it when this object goes.
// Aborts when no directory can be made: nothing a test could do without one.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "sb-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace sb::testing
