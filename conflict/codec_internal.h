// Internals shared by the two codec versions (codec.cpp frames and reads version 1 through
// Cap'n Proto; codec_v2.cpp reads and writes the compact version 2 body). Not a public API.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/utf8.h"
#include "conflict/directory.h"

namespace sb::codec {

// An invariant violation or malformed body; the framing layer turns it into Corruption.
struct DecodeError {
  std::string what;
};

// What a decoder checks of the texts it reads. Deltas and directory states come from other
// processes: every text must be UTF-8 (ids, kinds and field names also without control
// characters; values get their field's rules from the schema later). A stored record's state
// was built only from deltas checked that way, so its decoder (the store's reads and its
// merge operator) does not check again: a value stored by an older build stays readable, and
// the JSON and log writers make it printable.
enum class TextCheck { kWire, kStored };

// Throws DecodeError when `check` is kWire and `s` fails CheckText.
void CheckWireText(std::string_view s, TextCheck check, const char* what,
                   TextKind kind = TextKind::kName);

// Version 2 bodies (schemas/FORMATS.md, "Version 2"): everything between the 4-byte header and
// the CRC. Encoders append to `out`, growing it once to about the message's size with room
// for a checksum after it; decoders read the whole body or throw DecodeError (also
// std::bad_alloc), never returning a partial result.
void EncodeDeltaV2(const Delta& delta, std::string* out);
void EncodeDeltaBatchV2(std::span<const Delta> deltas, std::string* out);
void EncodeRecordV2(const Record& record, std::string* out);
void EncodeDirectoryV2(const Directory& dir, std::string* out);
Delta DecodeDeltaV2(std::string_view body);
std::vector<Delta> DecodeDeltaBatchV2(std::string_view body);
Record DecodeRecordV2(std::string_view body, TextCheck check);
Directory DecodeDirectoryV2(std::string_view body);

}  // namespace sb::codec
