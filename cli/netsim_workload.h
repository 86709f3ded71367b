// The network simulator's seeded generator and workload (cli/netsim.h): partners create and
// edit their own organization's records, and now and then make an edit the broker refuses by
// design; the maintainer approves proposed values, vets organizations and edits anything.
// Every choice comes from the one Rng, drawn in a fixed order, so the same seed gives the
// same edits.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conflict/edit.h"
#include "conflict/field_schema.h"
#include "conflict/record.h"

namespace sb::sim::net {

// xoshiro256** (Blackman and Vigna), seeded through splitmix64: the generator of
// simulator.cpp (which keeps its copy private). Unlike the std:: distributions, it and its
// helpers give the same numbers with every compiler and library.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      word = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) {
    uint64_t threshold = (0 - n) % n;
    for (;;) {
      uint64_t r = Next();
      if (r >= threshold) return r % n;
    }
  }
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_{};
};

// A lowercase version-4 UUID from the generator.
std::string NewId(Rng& rng);

// One operation of the workload: an edit, and what the broker should make of it.
struct Op {
  RecordEdit edit;
  bool planted = false;  // the broker must refuse it (when it changes anything)
  bool creates = false;
};

// Reads an agent's current record (a copy), or nullopt.
using LocalLookup = std::function<std::optional<Record>(const std::string& id)>;

// Chooses edits. Not thread-safe; `rng` must outlive it.
class Workload {
 public:
  // `planted`: partners sometimes make edits the broker must refuse. `removals`: set edits
  // may remove an element.
  Workload(Rng& rng, bool planted, bool removals);

  // A record now exists, owned by agent `owner`'s organization.
  void AddRecord(const std::string& id, const std::string& kind, size_t owner);
  // The creation of an organization's own record (at setup).
  RecordEdit OrgRecord(const std::string& org);
  // The next edit of a partner (agent `agent` of organization `org`), or of the maintainer;
  // `local` reads the agent's own state.
  Op Partner(size_t agent, const std::string& org, const LocalLookup& local);
  Op Maintainer(size_t agent, const LocalLookup& local);

 private:
  struct PoolRecord {
    std::string id;
    std::string kind;
    size_t owner = 0;  // the agent whose organization owns it
  };

  Op Create(const std::string& org);
  // An edit the broker refuses: another organization's record, or a maintainer-only field.
  Op Plant(size_t agent, const std::string& org, const LocalLookup& local);
  Op Edit(const PoolRecord& target, const std::optional<Record>& rec, bool maintainer);
  // Random valid values for the HSDS schema's fields.
  Value MakeValue(const std::string& kind, const std::string& field);
  std::string Element(const std::string& kind, const std::string& field);
  std::string Digits(size_t n);
  std::string Text(const std::string& kind, const std::string& field, const FieldSpec& spec);

  Rng& rng_;
  const FieldSchema& schema_;
  bool planted_, removals_;
  std::vector<PoolRecord> pool_;
  std::map<size_t, std::vector<size_t>> by_owner_;  // agent -> indexes into pool_
};

}  // namespace sb::sim::net
