// `switchboard bench referrals`: referral handoffs end to end, in one process over real CURVE
// and ZAP on 127.0.0.1 — a BrokerServer and two agents (sender and recipient), each with its
// own synced store. A handoff is: the sender seals and sends; the recipient's agent receives
// it, stores it and acknowledges delivery; a "user" thread on the recipient accepts it as
// soon as it shows as delivered; the sender sees `accepted`. Figures:
//  1. handoffs/s with many in flight (the sender sends a batch back to back; the clock stops
//     when the sender sees the last one accepted), median of `runs`;
//  2. latency of single handoffs (send -> accepted seen by the sender), p50 and p99;
// next to baselines measured in the same run: raw synced RocksDB puts/s (one writer) and raw
// CURVE DEALER->ROUTER messages/s of a sealed referral's size, with the ratios.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "base/clock.h"

namespace sb::bench {

struct ReferralBenchOptions {
  int handoffs = 200;  // per throughput run
  int probes = 50;     // single handoffs timed for latency
  int runs = 3;
  std::string dir;  // where temporary databases go; empty: $TMPDIR or /tmp
  bool json = false;
};

int RunReferralBench(const ReferralBenchOptions& options, Clock* clock, std::ostream& out,
                     std::ostream* progress);

}  // namespace sb::bench
