// The file system wrapper behind FaultInjector (store/fault_injection.h): RocksDB's files pass
// through it, and the injector decides which operations fail and remembers what was synced.
// Internal to store/: RocksDB types do not leave this component.
#pragma once

#include <memory>

namespace rocksdb {
class FileSystem;
}

namespace sb {

class FaultInjector;

// Wraps the default file system. `injector` must outlive the returned object.
std::shared_ptr<rocksdb::FileSystem> NewFaultInjectionFs(FaultInjector* injector);

}  // namespace sb
