// Encoding of deltas and directory states through the Cap'n Proto schemas (schemas/crdt.capnp)
// inside a small frame (schemas/FORMATS.md):
//
//   "SBD" | format version (1 byte) | Cap'n Proto flat message | CRC-32 of all before (4 bytes LE)
//
// Decoding treats its input as hostile: it checks the frame, reads with traversal and nesting
// limits inside a catch boundary, and checks the invariants Cap'n Proto cannot (dots non-zero,
// every entry's dot inside its record's context, no duplicate fields or elements). It returns
// Corruption on any failure and never a partial result. Encoding is canonical: equal states
// encode to equal bytes, so a digest of the encoding identifies a state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "conflict/directory.h"
#include "schemas/status.h"

namespace sb {

inline constexpr uint8_t kFormatVersion = 1;
// Largest encoded delta a decoder accepts.
inline constexpr size_t kMaxDeltaBytes = 4 << 20;
// Largest encoded directory state a decoder accepts (snapshots are chunked above this).
inline constexpr size_t kMaxStateBytes = 1ull << 30;

std::string EncodeDelta(const Delta& delta);
Result<Delta> DecodeDelta(std::string_view bytes);

std::string EncodeDirectory(const Directory& dir);
Result<Directory> DecodeDirectory(std::string_view bytes);

// A single record's state (used by stores for values).
std::string EncodeRecord(const Record& record);
Result<Record> DecodeRecord(std::string_view bytes);

uint32_t Crc32(std::string_view bytes);

}  // namespace sb
