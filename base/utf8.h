// Text that enters a process is checked here, at the boundary, before anything stores,
// compares, logs or serialises it (DESIGN.md §9; issue 10). Every text of the wire format,
// the field schema, the local APIs, referral metadata, HSDS imports and roster files goes
// through CheckText, so a byte sequence that is not UTF-8 (or a control character where
// people will read the text) is refused with a message that names the field — and never
// reaches a JSON encoder or a terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sb {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF). Embedded NUL bytes are well-formed UTF-8; TextKind decides about them.
bool IsUtf8(std::string_view s);

enum class TextKind {
  kName,   // identifiers, codes, names shown in one line: no control characters at all
  kProse,  // text people read (descriptions, reasons): tab and newline allowed, no others
  kAny,    // any well-formed UTF-8 (values whose rules a schema applies later)
};

// InvalidArgument "<field>: is not valid UTF-8 (byte 12)" or "<field>: contains a control
// character (byte 3)" or "<field>: longer than N bytes (M)"; OK otherwise. `max_bytes` 0 means
// no length limit. The message never repeats the offending bytes.
Status CheckText(std::string_view s, std::string_view field, TextKind kind, size_t max_bytes = 0);

// `s` made safe for a log line or an error message: invalid bytes and control characters as
// \xNN, cut at `max_bytes` (with "…" when cut). Always valid UTF-8.
std::string Printable(std::string_view s, size_t max_bytes = 80);

}  // namespace sb
