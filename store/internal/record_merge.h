// The CRDT join as a RocksDB merge operator for the `records` column family: operands are
// encoded record deltas, the stored value is the encoded record state, and merging is
// Record::Join. Because join is associative, commutative and idempotent, RocksDB may combine
// operands in any grouping (partial merges) and replay them after a crash without harm.
#pragma once

#include <rocksdb/merge_operator.h>

namespace sb {

class RecordMergeOperator : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "switchboard.RecordJoin.v1"; }
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override;
  bool PartialMergeMulti(const rocksdb::Slice& key, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger* logger) const override;
  bool AllowSingleOperand() const override { return true; }
};

}  // namespace sb
