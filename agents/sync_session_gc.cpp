// Tombstone collection in the agent's sync session (broker/gc.h): the broker's Collected
// messages drop records from the local directory.
#include "agents/sync_session.h"

namespace sb {

std::vector<std::string> AgentSync::OnCollected(const proto::Collected& c) {
  Result<size_t> dropped = dir_->DropCollected(c.ids);
  if (!dropped.ok()) {
    // Nothing was dropped: the records stay as they are, deleted (never shown as live).
    Error("cannot drop records the broker collected: " + dropped.status().ToString());
    return {};
  }
  MutexLock lock(status_mu_);
  status_.collected += *dropped;
  return {};
}

void AgentSync::RetryCollected() {
  if (!dir_->collected_deferred()) return;
  Result<size_t> dropped = dir_->DropCollected({});
  if (!dropped.ok()) return;  // tried again after the next ack
  MutexLock lock(status_mu_);
  status_.collected += *dropped;
}

}  // namespace sb
