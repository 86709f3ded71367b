// Encoding of deltas and directory states inside a small frame (schemas/FORMATS.md):
//
//   "SB" | tag (1 byte) | format version (1 byte) | body | CRC-32 of all before (4 bytes LE)
//
// Encoders write format version 2, a compact varint body: replica ids once per message in a
// table, counters and lengths as varints, UUIDs as 16 bytes; a batch (tag B) carries N deltas
// under one table. Decoders also read version 1 (a Cap'n Proto message of schemas/crdt.capnp),
// so data stored and bytes sent by older builds stay readable.
//
// Decoding treats its input as hostile: it checks the frame, reads with traversal and nesting
// limits inside a catch boundary, and checks the invariants Cap'n Proto cannot (dots non-zero,
// every entry's dot inside its record's context, no duplicate fields or elements). It returns
// Corruption on any failure and never a partial result. Encoding is canonical: equal states
// encode to equal bytes, so a digest of the encoding identifies a state.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "conflict/directory.h"

namespace sb {

// The version encoders write, and the oldest one decoders read.
inline constexpr uint8_t kFormatVersion = 2;
inline constexpr uint8_t kOldestFormatVersion = 1;
// Largest encoded delta a decoder accepts.
inline constexpr size_t kMaxDeltaBytes = 4 << 20;
// Largest encoded directory state a decoder accepts (snapshots are chunked above this).
inline constexpr size_t kMaxStateBytes = 1ull << 30;

std::string EncodeDelta(const Delta& delta);
Result<Delta> DecodeDelta(std::string_view bytes);

// N deltas in one message sharing one replica table (at most kMaxDeltaBytes in all).
// Decoding yields the deltas in order, each checked as DecodeDelta checks one.
std::string EncodeDeltaBatch(std::span<const Delta> deltas);
Result<std::vector<Delta>> DecodeDeltaBatch(std::string_view bytes);

std::string EncodeDirectory(const Directory& dir);
Result<Directory> DecodeDirectory(std::string_view bytes);

// A single record's state (used by stores for values).
std::string EncodeRecord(const Record& record);
Result<Record> DecodeRecord(std::string_view bytes);

uint32_t Crc32(std::string_view bytes);

// Format version 1 encoders, kept so tests can check that old bytes still decode (and for
// comparisons in benches). Nothing else should write version 1.
std::string EncodeDeltaV1(const Delta& delta);
std::string EncodeRecordV1(const Record& record);
std::string EncodeDirectoryV1(const Directory& dir);

}  // namespace sb
