// RFC 4180 CSV, read from a stream of bytes and written as text (the HSDS tabular form,
// agents/hsds_tabular.h).
//
// Reading accepts what spreadsheets and scripts write: quoted cells with embedded commas,
// doubled quotes and line breaks; CRLF, LF or CR line ends; a UTF-8 byte order mark at the
// start; a last record without a line end. A quote inside an unquoted cell is kept as it is
// (12" screen). Refused, with the record number: a quoted cell that never closes, text after a
// closing quote other than a comma or a line end, a cell longer than the limit, a record with
// more cells or bytes than the limits (so a hostile file cannot make the reader allocate more
// than about max_record_bytes per record). Text is not checked for UTF-8 here: the caller
// does that per cell.
//
// Writing quotes a cell only when it must (comma, quote, CR or LF) and ends records with CRLF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sb {

// Bytes from a file, a zip entry or memory. Read returns the number of bytes put in `buf`
// (0 at the end) or an error.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

// A ByteSource over text held in memory (tests, datapackage.json).
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string text) : text_(std::move(text)) {}
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  std::string text_;
  size_t pos_ = 0;
};

struct CsvLimits {
  size_t max_cell_bytes = size_t{1} << 20;    // 1 MiB
  size_t max_record_bytes = size_t{8} << 20;  // 8 MiB, all cells of one record
  size_t max_cells = 2000;                    // cells in one record
};

class CsvReader {
 public:
  // Borrows `source`, which must outlive the reader.
  CsvReader(ByteSource* source, CsvLimits limits);
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // The next record's cells, or false at the end of the input. Errors (InvalidArgument for
  // malformed CSV, ResourceExhausted for a limit, the source's own errors) begin with
  // "row N" where N is the record's number (the first record is row 1) and stop the reader.
  Result<bool> Next(std::vector<std::string>* cells);
  // The number of the record Next returned last (1 for the first).
  size_t row() const { return row_; }

 private:
  static constexpr int kEnd = -1;     // Get: the end of the input
  static constexpr int kFailed = -3;  // Get: the source failed (error_ says why)
  // The next byte, kEnd or kFailed.
  int Get() {
    if (pushed_ != -2) {
      int c = pushed_;
      pushed_ = -2;
      return c;
    }
    if (pos_ < buf_.size()) {
      char c = buf_[pos_++];
      if (c == '\n') ++line_;
      return static_cast<unsigned char>(c);
    }
    return Refill();
  }
  int Refill();
  void Unget(int c);
  Status SkipByteOrderMark();

  ByteSource* source_;
  CsvLimits limits_;
  std::string buf_;
  size_t pos_ = 0;
  bool at_end_ = false;
  bool started_ = false;
  int pushed_ = -2;  // a byte given back by Unget, -2 for none
  Status error_;
  size_t row_ = 0;
  size_t line_ = 1;  // the physical line of the next byte
};

// One cell as CSV: quoted (quotes doubled) when it holds a comma, quote, CR or LF.
std::string CsvCell(std::string_view text);
// Appends one record (cells joined by commas, then CRLF).
void AppendCsvRecord(const std::vector<std::string>& cells, std::string* out);

}  // namespace sb
