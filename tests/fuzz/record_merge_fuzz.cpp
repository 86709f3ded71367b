// The store's merge operand (store/record_merge.h): RocksDB hands the operator a stored value
// and operands read back from disk, so both are hostile. Input: one flags byte (bit 0: the
// first piece is the existing value; bit 1: repair each piece's CRC), then length-prefixed
// pieces (tests/fuzz/fuzz_util.h). Properties: a merge fails exactly when some piece does not
// decode; a result decodes; merging in any grouping (partial merge first) gives the same
// record; merging a result into itself changes nothing.
#include <deque>
#include <vector>

#include "conflict/codec.h"
#include "store/internal/record_merge.h"
#include "tests/fuzz/codec_util.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using rocksdb::Slice;

bool Full(const sb::RecordMergeOperator& op, const Slice* existing,
          const std::vector<Slice>& operands, std::string* out) {
  rocksdb::MergeOperator::MergeOperationInput in(Slice("k"), existing, operands, nullptr);
  Slice existing_operand(nullptr, 0);  // as RocksDB's merge helper passes it
  rocksdb::MergeOperator::MergeOperationOutput res(*out, existing_operand);
  if (!op.FullMergeV2(in, &res)) return false;
  if (existing_operand.data() != nullptr) *out = existing_operand.ToString();
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sb;
  std::string_view in = fuzz::AsView(data, size);
  if (in.empty()) return 0;
  uint8_t flags = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  std::vector<std::string> pieces;
  std::string_view piece;
  while (pieces.size() < 16 && fuzz::NextPiece(&in, &piece)) {
    pieces.push_back((flags & 2) ? fuzz::WithFixedCrc(piece) : std::string(piece));
  }
  bool has_existing = (flags & 1) && !pieces.empty();
  Slice existing_slice;
  if (has_existing) existing_slice = Slice(pieces[0]);
  std::vector<Slice> operands;
  bool all_decode = true;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (!DecodeRecord(pieces[i]).ok()) all_decode = false;
    if (i == 0 && has_existing) continue;
    operands.emplace_back(pieces[i]);
  }

  if (operands.empty()) return 0;  // RocksDB merges at least one operand

  RecordMergeOperator op;
  std::string full;
  bool ok = Full(op, has_existing ? &existing_slice : nullptr, operands, &full);
  FUZZ_CHECK(ok == all_decode);
  if (!ok) return 0;
  Result<Record> merged = DecodeRecord(full);
  FUZZ_CHECK(merged.ok());

  // Partial merge of the operands first, then a full merge onto the existing value.
  std::deque<Slice> dq(operands.begin(), operands.end());
  std::string partial;
  {
    FUZZ_CHECK(op.PartialMergeMulti(Slice("k"), dq, &partial, nullptr));
    std::string regrouped;
    std::vector<Slice> one{Slice(partial)};
    FUZZ_CHECK(Full(op, has_existing ? &existing_slice : nullptr, one, &regrouped));
    Result<Record> r2 = DecodeRecord(regrouped);
    FUZZ_CHECK(r2.ok() && *r2 == *merged);
  }

  // Idempotence: the result merged into itself is the result.
  Slice full_slice(full);
  std::string again;
  FUZZ_CHECK(Full(op, &full_slice, std::vector<Slice>{full_slice}, &again));
  Result<Record> r3 = DecodeRecord(again);
  FUZZ_CHECK(r3.ok() && *r3 == *merged);
  return 0;
}
