#include "sim/network.h"

#include <algorithm>

namespace sb::sim {

Links::Links(size_t nodes, const NetworkFaults& faults, Rng& rng)
    : faults_(faults), rng_(rng), up_(nodes, true), life_(nodes, 0) {}

std::optional<Links::Schedule> Links::OnSend(size_t from, size_t to, size_t bytes, uint64_t now) {
  ++stats_.sent;
  if (!up_[from] || !up_[to]) {  // nothing reaches the wire
    ++stats_.cut;
    return std::nullopt;
  }
  stats_.bytes += bytes;
  if (!Reachable(from, to)) {
    ++stats_.cut;
    return std::nullopt;
  }
  if (rng_.Chance(faults_.drop)) {
    ++stats_.dropped;
    return std::nullopt;
  }
  Schedule s;
  s.at = now + (faults_.reorder ? 1 + rng_.Below(kMaxJitterMs) : kLatencyMs);
  if (rng_.Chance(faults_.dup)) {
    ++stats_.duplicated;
    s.duplicate_at = s.at + 1 + rng_.Below(kMaxJitterMs);
  }
  return s;
}

bool Links::OnDue(size_t from, size_t to, uint64_t from_life, uint64_t to_life) {
  if (!up_[from] || !up_[to] || life_[from] != from_life || life_[to] != to_life ||
      !Reachable(from, to)) {
    ++stats_.cut;
    return false;
  }
  ++stats_.delivered;
  return true;
}

void Links::Crash(size_t node) {
  up_[node] = false;
  ++life_[node];
}

std::vector<uint8_t> PartitionEpisode::Sides(size_t nodes) const {
  std::vector<uint8_t> side(nodes, 0);
  for (size_t i : group) side[i] = 1;
  return side;
}

std::vector<PartitionEpisode> PlanPartitions(uint64_t ops, int count, size_t nodes, Rng& rng) {
  std::vector<PartitionEpisode> plan;
  if (ops == 0 || count <= 0 || nodes == 0) return plan;
  uint64_t slot = std::max<uint64_t>(1, ops / static_cast<uint64_t>(count));
  for (int k = 0; k < count; ++k) {
    uint64_t base = static_cast<uint64_t>(k) * slot;
    if (base >= ops) break;
    PartitionEpisode e;
    e.start_op = base + rng.Below(slot / 2 + 1);
    e.end_op = e.start_op + std::max<uint64_t>(1, slot / 8 + rng.Below(slot * 3 / 8 + 1));
    std::vector<size_t> order(nodes);
    for (size_t i = 0; i < nodes; ++i) order[i] = i;
    for (size_t i = nodes - 1; i > 0; --i) std::swap(order[i], order[rng.Below(i + 1)]);
    order.resize(1 + rng.Below(nodes > 1 ? nodes - 1 : 1));  // the rest keep at least one
    std::sort(order.begin(), order.end());
    e.group = std::move(order);
    plan.push_back(std::move(e));
  }
  return plan;
}

PartitionSchedule::Step PartitionSchedule::At(uint64_t op) {
  Step step;
  if (active_ && op >= plan_[next_].end_op) {
    step.ended = &plan_[next_];
    active_ = false;
    ++next_;
  }
  if (!active_ && next_ < plan_.size() && op >= plan_[next_].start_op) {
    step.started = &plan_[next_];
    step.number = next_ + 1;
    active_ = true;
  }
  return step;
}

std::vector<PlannedCrash> PlanCrashes(uint64_t ops, int count, size_t victims, Rng& rng) {
  std::vector<PlannedCrash> plan;
  for (int k = 0; ops > 0 && k < count; ++k) {
    PlannedCrash c;
    c.op = rng.Below(ops);
    c.victim = rng.Below(victims);
    plan.push_back(c);
  }
  std::stable_sort(plan.begin(), plan.end(),
                   [](const PlannedCrash& a, const PlannedCrash& b) { return a.op < b.op; });
  return plan;
}

}  // namespace sb::sim
