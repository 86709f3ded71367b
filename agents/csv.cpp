#include "agents/csv.h"

#include <algorithm>
#include <cstring>

namespace sb {

namespace {
constexpr size_t kChunk = 64 * 1024;
}  // namespace

Result<size_t> StringSource::Read(char* buf, size_t n) {
  size_t k = std::min(n, text_.size() - pos_);
  std::memcpy(buf, text_.data() + pos_, k);
  pos_ += k;
  return k;
}

CsvReader::CsvReader(ByteSource* source, CsvLimits limits) : source_(source), limits_(limits) {}

int CsvReader::Refill() {
  if (at_end_) return kEnd;
  buf_.resize(kChunk);
  Result<size_t> n = source_->Read(buf_.data(), kChunk);
  if (!n.ok()) {
    error_ = n.status();
    buf_.clear();
    pos_ = 0;
    return kFailed;
  }
  buf_.resize(*n);
  pos_ = 0;
  if (*n == 0) {
    at_end_ = true;
    return kEnd;
  }
  return Get();
}

void CsvReader::Unget(int c) {
  pushed_ = c;
}

Status CsvReader::SkipByteOrderMark() {
  while (buf_.size() - pos_ < 3 && !at_end_) {
    std::string more(kChunk, '\0');
    ASSIGN_OR_RETURN(size_t n, source_->Read(more.data(), kChunk));
    if (n == 0) at_end_ = true;
    buf_.append(more, 0, n);
  }
  if (buf_.compare(pos_, 3, "\xEF\xBB\xBF") == 0) pos_ += 3;
  return Status::Ok();
}

// The states of one record: at the start of a cell, inside an unquoted cell, inside a quoted
// cell, just after a quote inside a quoted cell (a doubled quote or the closing one).
Result<bool> CsvReader::Next(std::vector<std::string>* cells) {
  cells->clear();
  enum class State { kCellStart, kUnquoted, kQuoted, kQuoteInQuoted };
  if (!started_) {
    started_ = true;
    RETURN_IF_ERROR(SkipByteOrderMark());
  }
  ++row_;
  const std::string where = "row " + std::to_string(row_);
  std::string cell;
  size_t record_bytes = 0;
  State state = State::kCellStart;
  bool any = false;  // anything read for this record
  auto end_cell = [&]() -> Status {
    if (cells->size() >= limits_.max_cells) {
      return Status::ResourceExhausted(where + ": more than " + std::to_string(limits_.max_cells) +
                                       " cells");
    }
    record_bytes += cell.size();
    if (record_bytes > limits_.max_record_bytes) {
      return Status::ResourceExhausted(where + ": longer than " +
                                       std::to_string(limits_.max_record_bytes) + " bytes");
    }
    cells->push_back(std::move(cell));
    cell.clear();
    return Status::Ok();
  };
  auto add = [&](int c) -> Status {
    if (cell.size() >= limits_.max_cell_bytes) {
      return Status::ResourceExhausted(where + ", cell " + std::to_string(cells->size() + 1) +
                                       ": longer than " + std::to_string(limits_.max_cell_bytes) +
                                       " bytes");
    }
    cell.push_back(static_cast<char>(c));
    return Status::Ok();
  };
  size_t quote_line = line_;
  // Takes the bytes up to the next one that matters (for a quoted cell a quote; else a comma
  // or a line end) from the buffer at once.
  auto take_run = [&](bool quoted) -> Status {
    if (pushed_ != -2) return Status::Ok();
    size_t j = pos_;
    while (j < buf_.size()) {
      char b = buf_[j];
      if (quoted ? b == '"' : (b == ',' || b == '\r' || b == '\n')) break;
      if (b == '\n') ++line_;
      ++j;
    }
    if (cell.size() + (j - pos_) > limits_.max_cell_bytes) return add(0);  // the limit's error
    cell.append(buf_, pos_, j - pos_);
    pos_ = j;
    return Status::Ok();
  };
  for (;;) {
    int c = Get();
    if (c == kFailed) return error_;
    if (c == kEnd) {
      if (state == State::kQuoted) {
        return Status::InvalidArgument(where + ": a quoted cell (cell " +
                                       std::to_string(cells->size() + 1) + ", opened on line " +
                                       std::to_string(quote_line) +
                                       ") never closes: the file is truncated or a quote is "
                                       "missing");
      }
      if (!any) {
        --row_;
        return false;
      }
      RETURN_IF_ERROR(end_cell());
      return true;
    }
    any = true;
    switch (state) {
      case State::kCellStart:
        if (c == '"') {
          state = State::kQuoted;
          quote_line = line_;
          continue;
        }
        state = State::kUnquoted;
        [[fallthrough]];
      case State::kUnquoted:
        if (c == ',') {
          RETURN_IF_ERROR(end_cell());
          state = State::kCellStart;
        } else if (c == '\r' || c == '\n') {
          if (c == '\r') {
            int d = Get();
            if (d == kFailed) return error_;
            if (d != '\n' && d != kEnd) Unget(d);
          }
          RETURN_IF_ERROR(end_cell());
          return true;
        } else {
          RETURN_IF_ERROR(add(c));
          RETURN_IF_ERROR(take_run(false));
        }
        break;
      case State::kQuoted:
        if (c == '"') {
          state = State::kQuoteInQuoted;
        } else {
          RETURN_IF_ERROR(add(c));
          RETURN_IF_ERROR(take_run(true));
        }
        break;
      case State::kQuoteInQuoted:
        if (c == '"') {
          RETURN_IF_ERROR(add('"'));
          state = State::kQuoted;
        } else if (c == ',') {
          RETURN_IF_ERROR(end_cell());
          state = State::kCellStart;
        } else if (c == '\r' || c == '\n') {
          if (c == '\r') {
            int d = Get();
            if (d == kFailed) return error_;
            if (d != '\n' && d != kEnd) Unget(d);
          }
          RETURN_IF_ERROR(end_cell());
          return true;
        } else {
          return Status::InvalidArgument(
              where + ", cell " + std::to_string(cells->size() + 1) +
              ": text after a closing quote (a quote inside a quoted cell must be doubled)");
        }
        break;
    }
  }
}

std::string CsvCell(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void AppendCsvRecord(const std::vector<std::string>& cells, std::string* out) {
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append(CsvCell(cells[i]));
  }
  out->append("\r\n");
}

}  // namespace sb
