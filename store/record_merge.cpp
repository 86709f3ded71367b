#include "store/internal/record_merge.h"

#include <rocksdb/env.h>

#include "conflict/codec.h"

namespace sb {

namespace {
// Joins every encoded record in `parts` into `acc`. A part that fails to decode makes the
// merge fail: RocksDB then reports Corruption for the key instead of silently dropping data.
template <typename Parts>
bool JoinAll(const Parts& parts, Record* acc, rocksdb::Logger* logger) {
  for (const rocksdb::Slice& s : parts) {
    Result<Record> r = DecodeRecord(std::string_view(s.data(), s.size()));
    if (!r.ok()) {
      if (logger) rocksdb::Log(logger, "record merge: %s", r.status().ToString().c_str());
      return false;
    }
    acc->Join(*r);
  }
  return true;
}
}  // namespace

bool RecordMergeOperator::FullMergeV2(const MergeOperationInput& in,
                                      MergeOperationOutput* out) const {
  Record acc;
  if (in.existing_value) {
    std::vector<rocksdb::Slice> base{*in.existing_value};
    if (!JoinAll(base, &acc, in.logger)) return false;
  }
  if (!JoinAll(in.operand_list, &acc, in.logger)) return false;
  out->new_value = EncodeRecord(acc);
  return true;
}

bool RecordMergeOperator::PartialMergeMulti(const rocksdb::Slice&,
                                            const std::deque<rocksdb::Slice>& operands,
                                            std::string* new_value, rocksdb::Logger* logger) const {
  Record acc;
  if (!JoinAll(operands, &acc, logger)) return false;
  *new_value = EncodeRecord(acc);
  return true;
}

}  // namespace sb
