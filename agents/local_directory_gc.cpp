// Tombstone collection at an agent: dropping the records the broker collected
// (LocalDirectory::DropCollected; broker/gc.h has the rules).
#include <spdlog/spdlog.h>

#include <set>

#include "agents/local_directory.h"
#include "conflict/codec.h"

namespace sb {

namespace {

constexpr char kCollectedPrefix[] = "collected/";

}  // namespace

Result<size_t> LocalDirectory::DropCollected(const std::vector<std::string>& ids) {
  size_t dropped = 0, kept = 0;
  Status st = RunJob([&, this](const Directory& committed, uint64_t*, JobResult* r) {
    dropped = kept = 0;
    // Records an edit still waiting in the outbox touches: the broker refuses that edit (the
    // record is collected there) and the take-back settles the record first.
    std::set<std::string> pending;
    RETURN_IF_ERROR(store_->Scan(Cf::kOutbox, "", "", [&](std::string_view, std::string_view v) {
      if (Result<Delta> d = DecodeDelta(v); d.ok()) {
        for (const Record& rec : d->records) pending.insert(rec.id());
      }
      return true;
    }));
    std::set<std::string> todo(ids.begin(), ids.end());
    std::set<std::string> remembered;
    RETURN_IF_ERROR(
        store_->Scan(Cf::kMeta, kCollectedPrefix, "", [&](std::string_view k, std::string_view) {
          std::string id(k.substr(sizeof(kCollectedPrefix) - 1));
          remembered.insert(id);
          todo.insert(std::move(id));
          return true;
        }));
    for (const std::string& id : todo) {
      if (pending.count(id)) {
        if (!remembered.count(id)) r->batch.Put(Cf::kMeta, kCollectedPrefix + id, "");
        ++kept;
        continue;
      }
      if (remembered.count(id)) r->batch.Delete(Cf::kMeta, kCollectedPrefix + id);
      std::string prefix = id;
      prefix.push_back('\0');
      RETURN_IF_ERROR(
          store_->Scan(Cf::kHistory, prefix, "", [&](std::string_view k, std::string_view) {
            r->batch.Delete(Cf::kHistory, k);
            return true;
          }));
      if (committed.Find(id)) {
        r->batch.Delete(Cf::kRecords, id);
        r->erases.push_back(id);
        ++dropped;
      }
    }
    return Status::Ok();
  });
  RETURN_IF_ERROR(st);
  collected_deferred_ = kept;
  if (dropped > 0 || kept > 0) {
    spdlog::info("sync: dropped {} record(s) the broker collected{}", dropped,
                 kept > 0 ? ", kept " + std::to_string(kept) + " with edits waiting" : "");
  }
  return dropped;
}

}  // namespace sb
