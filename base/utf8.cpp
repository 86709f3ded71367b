#include "base/utf8.h"

#include <cstdint>

namespace sb {

namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 if there is none (RFC 3629, table 3-7
// of the Unicode standard).
size_t SequenceAt(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t left = s.size() - i;
  auto cont = [&](size_t k) { return (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(i + 1) > 0x9F) return 0;  // UTF-16 surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(i + 1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

bool IsControl(uint8_t c, TextKind kind) {
  if (kind == TextKind::kAny) return false;
  if (c == 0x7F) return true;
  if (c >= 0x20) return false;
  return kind == TextKind::kName || (c != '\n' && c != '\t');
}

}  // namespace

bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = SequenceAt(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

Status CheckText(std::string_view s, std::string_view field, TextKind kind, size_t max_bytes) {
  if (max_bytes != 0 && s.size() > max_bytes) {
    return Status::InvalidArgument(std::string(field) + ": longer than " +
                                   std::to_string(max_bytes) + " bytes (" +
                                   std::to_string(s.size()) + ")");
  }
  for (size_t i = 0; i < s.size();) {
    size_t n = SequenceAt(s, i);
    if (n == 0) {
      return Status::InvalidArgument(std::string(field) + ": is not valid UTF-8 (byte " +
                                     std::to_string(i) + ")");
    }
    if (n == 1 && IsControl(static_cast<uint8_t>(s[i]), kind)) {
      return Status::InvalidArgument(std::string(field) + ": contains a control character (byte " +
                                     std::to_string(i) + ")");
    }
    i += n;
  }
  return Status::Ok();
}

std::string Printable(std::string_view s, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  for (; i < s.size() && out.size() < max_bytes;) {
    size_t n = SequenceAt(s, i);
    auto c = static_cast<uint8_t>(s[i]);
    if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7F))) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  if (i < s.size()) out += "\xE2\x80\xA6";  // …
  return out;
}

}  // namespace sb
