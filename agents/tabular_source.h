// The files of an HSDS tabular package (agents/hsds_tabular.h): a folder or a .zip, opened
// with limits so that a hostile package is refused before anything of it is read.
//
// Refused when opened (clear errors naming the entry): a symbolic link or a special file
// (FIFO, device) anywhere in the folder or the zip; a zip entry whose name is absolute, holds
// a backslash or a ".." part (it would escape the folder), is not UTF-8, or appears twice;
// an encrypted entry; a zip whose entries declare more than max_total_bytes, or an entry
// larger than 1 MiB that expands more than max_ratio times its compressed size (a zip bomb);
// more than max_entries entries. While reading, the bytes actually produced are counted
// against max_total_bytes and each zip entry against its declared size, so sizes that lie are
// caught too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agents/csv.h"
#include "base/status.h"

namespace sb {

struct TabularLimits {
  uint64_t max_total_bytes = uint64_t{1} << 30;  // 1 GiB uncompressed, all files together
  uint64_t max_ratio = 200;                      // per zip entry, uncompressed / compressed
  size_t max_entries = 10000;                    // files and folders
  CsvLimits csv;
};

class TabularSource {
 public:
  virtual ~TabularSource() = default;
  // A folder (path is a directory) or a zip archive (anything else).
  static Result<std::unique_ptr<TabularSource>> Open(const std::string& path,
                                                     const TabularLimits& limits);
  // A zip archive held in memory (an upload), with the same checks.
  static Result<std::unique_ptr<TabularSource>> OpenZip(std::string bytes,
                                                        const TabularLimits& limits);

  // The regular files, as '/'-separated paths relative to the package's root (for a zip
  // whose entries all sit in one top folder, that folder), sorted.
  const std::vector<std::string>& Files() const { return files_; }
  // A file's bytes; `name` must be one of Files(). The source must outlive the stream.
  virtual Result<std::unique_ptr<ByteSource>> OpenFile(const std::string& name) = 0;

 protected:
  std::vector<std::string> files_;
};

// A zip archive (deflated, entries 0644) of `files` (name, contents), built in memory.
Result<std::string> ZipFiles(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace sb
