#include "agents/tabular_source.h"

#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "base/utf8.h"

namespace sb {

namespace {

namespace fs = std::filesystem;

std::string MiB(uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

// Counts the bytes every stream of one package produces against the package's limit.
struct ByteBudget {
  uint64_t used = 0;
  uint64_t max = 0;
  Status Spend(size_t n, const std::string& file) {
    used += n;
    if (used > max) {
      return Status::ResourceExhausted(file + ": the package holds more than " + MiB(max) +
                                       " of data (uncompressed); split it or raise the limit");
    }
    return Status::Ok();
  }
};

// --- a folder ---

class FileStream : public ByteSource {
 public:
  FileStream(std::string path, std::string name, ByteBudget* budget)
      : in_(path, std::ios::binary), name_(std::move(name)), budget_(budget) {}
  bool good() const { return static_cast<bool>(in_); }
  Result<size_t> Read(char* buf, size_t n) override {
    in_.read(buf, static_cast<std::streamsize>(n));
    if (in_.bad()) return Status::IoError("cannot read " + name_);
    size_t got = static_cast<size_t>(in_.gcount());
    RETURN_IF_ERROR(budget_->Spend(got, name_));
    return got;
  }

 private:
  std::ifstream in_;
  std::string name_;
  ByteBudget* budget_;
};

class FolderSource : public TabularSource {
 public:
  FolderSource(std::string root, uint64_t max_total) : root_(std::move(root)) {
    budget_.max = max_total;
  }

  Status List(size_t max_entries) {
    std::error_code ec;
    fs::recursive_directory_iterator it(root_, fs::directory_options::none, ec);
    if (ec) return Status::IoError("cannot list " + root_ + ": " + ec.message());
    size_t count = 0;
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return Status::IoError("cannot list " + root_ + ": " + ec.message());
      if (++count > max_entries) {
        return Status::ResourceExhausted(root_ + ": more than " + std::to_string(max_entries) +
                                         " files and folders");
      }
      std::string rel = it->path().lexically_relative(root_).generic_string();
      fs::file_status st = it->symlink_status(ec);
      if (ec) return Status::IoError("cannot read " + rel + ": " + ec.message());
      if (fs::is_symlink(st)) {
        return Status::InvalidArgument(rel +
                                       ": is a symbolic link; a tabular package must hold its "
                                       "files themselves (copy the file in)");
      }
      if (fs::is_directory(st)) {
        if (it.depth() >= 8) {
          return Status::InvalidArgument(rel + ": folders nested more than 8 deep");
        }
        continue;
      }
      if (!fs::is_regular_file(st)) {
        return Status::InvalidArgument(rel + ": is not a regular file (a FIFO, socket or device)");
      }
      files_.push_back(rel);
    }
    std::sort(files_.begin(), files_.end());
    return Status::Ok();
  }

  Result<std::unique_ptr<ByteSource>> OpenFile(const std::string& name) override {
    if (!std::binary_search(files_.begin(), files_.end(), name)) {
      return Status::NotFound(name + ": no such file in the package");
    }
    auto s = std::make_unique<FileStream>(root_ + "/" + name, name, &budget_);
    if (!s->good()) return Status::IoError("cannot read " + name + ": " + std::strerror(errno));
    return std::unique_ptr<ByteSource>(std::move(s));
  }

 private:
  std::string root_;
  ByteBudget budget_;
};

// --- a zip archive (libzip) ---

class ZipStream : public ByteSource {
 public:
  ZipStream(zip_file_t* file, std::string name, uint64_t declared, ByteBudget* budget)
      : file_(file), name_(std::move(name)), declared_(declared), budget_(budget) {}
  ~ZipStream() override { zip_fclose(file_); }
  ZipStream(const ZipStream&) = delete;
  ZipStream& operator=(const ZipStream&) = delete;

  Result<size_t> Read(char* buf, size_t n) override {
    zip_int64_t got = zip_fread(file_, buf, n);
    if (got < 0) {
      return Status::Corruption(name_ + ": cannot be unpacked: " + zip_file_strerror(file_));
    }
    produced_ += static_cast<uint64_t>(got);
    if (produced_ > declared_) {
      return Status::Corruption(name_ + ": unpacks to more bytes than the zip declares");
    }
    RETURN_IF_ERROR(budget_->Spend(static_cast<size_t>(got), name_));
    return static_cast<size_t>(got);
  }

 private:
  zip_file_t* file_;
  std::string name_;
  uint64_t declared_;
  uint64_t produced_ = 0;
  ByteBudget* budget_;
};

// Why a zip entry name may not be used, or "" when it may: it must stay inside the package.
std::string BadEntryName(const std::string& name) {
  if (name.empty()) return "an empty name";
  if (!IsUtf8(name)) return "a name that is not UTF-8";
  if (name[0] == '/') return "an absolute path";
  if (name.find('\\') != std::string::npos) return "a backslash in its path";
  if (name.size() >= 2 && name[1] == ':') return "a drive letter";
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string_view part(name.data() + start, end - start);
    if (part == "..") return "a \"..\" part (it would escape the folder)";
    if (part.empty() && end != name.size()) return "an empty part (\"//\")";
    start = end + 1;
  }
  return "";
}

class ZipSource : public TabularSource {
 public:
  explicit ZipSource(uint64_t max_total) { budget_.max = max_total; }
  ~ZipSource() override {
    if (zip_ != nullptr) zip_discard(zip_);
  }
  ZipSource(const ZipSource&) = delete;
  ZipSource& operator=(const ZipSource&) = delete;

  // Opens the zip file at `path`, or, when `path` is empty, the zip held in `bytes`.
  Status Load(const std::string& path, std::string bytes, const TabularLimits& limits) {
    zip_error_t ze;
    zip_error_init(&ze);
    if (path.empty()) {
      bytes_ = std::move(bytes);
      zip_source_t* src = zip_source_buffer_create(bytes_.data(), bytes_.size(), 0, &ze);
      if (src != nullptr) {
        zip_ = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
        if (zip_ == nullptr) zip_source_free(src);
      }
    } else {
      int err = 0;
      zip_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
      if (zip_ == nullptr) zip_error_init_with_code(&ze, err);
    }
    const std::string name = path.empty() ? std::string("the upload") : path;
    if (zip_ == nullptr) {
      std::string why = zip_error_strerror(&ze);
      zip_error_fini(&ze);
      return Status::InvalidArgument(name + ": not a folder or a readable zip archive (" + why +
                                     ")");
    }
    zip_error_fini(&ze);
    return List(name, limits);
  }

  Status List(const std::string& path, const TabularLimits& limits) {
    zip_int64_t n = zip_get_num_entries(zip_, 0);
    if (n < 0) return Status::Corruption(path + ": cannot list the zip's entries");
    if (static_cast<uint64_t>(n) > limits.max_entries) {
      return Status::ResourceExhausted(path + ": more than " + std::to_string(limits.max_entries) +
                                       " entries");
    }
    uint64_t declared_total = 0;
    std::vector<std::pair<std::string, zip_uint64_t>> entries;
    std::set<std::string> seen;
    for (zip_int64_t i = 0; i < n; ++i) {
      zip_uint64_t index = static_cast<zip_uint64_t>(i);
      zip_stat_t st;
      zip_stat_init(&st);
      if (zip_stat_index(zip_, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) {
        return Status::Corruption(path + ": entry " + std::to_string(i) + " cannot be read");
      }
      std::string name = st.name;
      std::string bad = BadEntryName(name);
      if (!bad.empty()) {
        return Status::InvalidArgument(path + ": entry \"" + Printable(name) + "\" has " + bad);
      }
      if (!seen.insert(name).second) {
        return Status::InvalidArgument(path + ": entry " + name + " appears twice");
      }
      zip_uint8_t opsys = 0;
      zip_uint32_t attributes = 0;
      if (zip_file_get_external_attributes(zip_, index, 0, &opsys, &attributes) == 0 &&
          opsys == ZIP_OPSYS_UNIX) {
        mode_t mode = static_cast<mode_t>(attributes >> 16);
        if (S_ISLNK(mode)) {
          return Status::InvalidArgument(path + ": entry " + name +
                                         " is a symbolic link; a tabular package must hold its "
                                         "files themselves");
        }
        if ((mode & S_IFMT) != 0 && !S_ISREG(mode) && !S_ISDIR(mode)) {
          return Status::InvalidArgument(path + ": entry " + name + " is not a regular file");
        }
      }
      if (name.back() == '/') continue;  // a folder
      if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
        return Status::InvalidArgument(path + ": entry " + name + " is encrypted");
      }
      if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) {
        return Status::Corruption(path + ": entry " + name + " has no size");
      }
      declared_total += st.size;
      if (declared_total > limits.max_total_bytes) {
        return Status::ResourceExhausted(path + ": the zip unpacks to more than " +
                                         MiB(limits.max_total_bytes) +
                                         " (a zip bomb, or split the package)");
      }
      if (st.size > (uint64_t{1} << 20) && st.comp_size * limits.max_ratio < st.size) {
        return Status::ResourceExhausted(
            path + ": entry " + name + " expands " +
            std::to_string(st.comp_size == 0 ? st.size : st.size / st.comp_size) +
            " times its compressed size (more than " + std::to_string(limits.max_ratio) +
            "): refused as a zip bomb");
      }
      entries.emplace_back(name, index);
      sizes_[name] = st.size;
    }
    // Entries in one top folder (a zipped folder): paths are relative to that folder.
    std::string prefix;
    std::vector<std::pair<std::string, zip_uint64_t>> kept;
    for (auto& e : entries) {
      if (e.first.rfind("__MACOSX/", 0) == 0) continue;  // macOS resource forks
      kept.push_back(e);
    }
    if (!kept.empty()) {
      size_t slash = kept[0].first.find('/');
      if (slash != std::string::npos) {
        prefix = kept[0].first.substr(0, slash + 1);
        for (auto& e : kept) {
          if (e.first.rfind(prefix, 0) != 0) {
            prefix.clear();
            break;
          }
        }
      }
    }
    for (auto& e : kept) {
      std::string rel = e.first.substr(prefix.size());
      index_[rel] = e.second;
      full_name_[rel] = e.first;
      files_.push_back(rel);
    }
    std::sort(files_.begin(), files_.end());
    return Status::Ok();
  }

  Result<std::unique_ptr<ByteSource>> OpenFile(const std::string& name) override {
    auto it = index_.find(name);
    if (it == index_.end()) return Status::NotFound(name + ": no such file in the package");
    zip_file_t* f = zip_fopen_index(zip_, it->second, 0);
    if (f == nullptr) {
      return Status::Corruption(name +
                                ": cannot be unpacked: " + zip_error_strerror(zip_get_error(zip_)));
    }
    return std::unique_ptr<ByteSource>(
        std::make_unique<ZipStream>(f, name, sizes_[full_name_[name]], &budget_));
  }

 private:
  std::string bytes_;  // the archive, when it came from memory (outlives zip_)
  zip_t* zip_ = nullptr;
  ByteBudget budget_;
  std::map<std::string, zip_uint64_t> index_;
  std::map<std::string, std::string> full_name_;
  std::map<std::string, uint64_t> sizes_;
};

}  // namespace

Result<std::unique_ptr<TabularSource>> TabularSource::Open(const std::string& path,
                                                           const TabularLimits& limits) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("cannot read " + path + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    auto folder = std::make_unique<FolderSource>(path, limits.max_total_bytes);
    RETURN_IF_ERROR(folder->List(limits.max_entries));
    return std::unique_ptr<TabularSource>(std::move(folder));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(path + ": neither a folder nor a zip file");
  }
  auto zip = std::make_unique<ZipSource>(limits.max_total_bytes);
  RETURN_IF_ERROR(zip->Load(path, "", limits));
  return std::unique_ptr<TabularSource>(std::move(zip));
}

Result<std::unique_ptr<TabularSource>> TabularSource::OpenZip(std::string bytes,
                                                              const TabularLimits& limits) {
  auto zip = std::make_unique<ZipSource>(limits.max_total_bytes);
  RETURN_IF_ERROR(zip->Load("", std::move(bytes), limits));
  return std::unique_ptr<TabularSource>(std::move(zip));
}

Result<std::string> ZipFiles(const std::vector<std::pair<std::string, std::string>>& files) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &ze);
  zip_t* z = out == nullptr ? nullptr : zip_open_from_source(out, ZIP_TRUNCATE, &ze);
  zip_error_fini(&ze);
  if (z == nullptr) {
    if (out != nullptr) zip_source_free(out);
    return Status::Internal("cannot make a zip in memory");
  }
  zip_source_keep(out);  // survives zip_close, which writes the archive into it
  auto fail = [&](const std::string& what) {
    std::string why = zip_strerror(z);
    zip_discard(z);
    zip_source_free(out);
    return Status::Internal("cannot zip " + what + ": " + why);
  };
  for (const auto& [name, contents] : files) {
    zip_source_t* src = zip_source_buffer(z, contents.data(), contents.size(), 0);
    if (src == nullptr) return fail(name);
    zip_int64_t i = zip_file_add(z, name.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (i < 0) {
      zip_source_free(src);
      return fail(name);
    }
    if (zip_file_set_external_attributes(z, static_cast<zip_uint64_t>(i), 0, ZIP_OPSYS_UNIX,
                                         (S_IFREG | 0644u) << 16) != 0) {
      return fail(name);
    }
  }
  if (zip_close(z) != 0) return fail("the archive");
  std::string bytes;
  bool ok = zip_source_open(out) == 0;
  char buf[65536];
  while (ok) {
    zip_int64_t n = zip_source_read(out, buf, sizeof buf);
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    bytes.append(buf, static_cast<size_t>(n));
  }
  zip_source_close(out);
  zip_source_free(out);
  if (!ok) return Status::Internal("cannot read the zip made in memory");
  return bytes;
}

}  // namespace sb
