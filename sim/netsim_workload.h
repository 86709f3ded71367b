// The network simulator's seeded generator and workload (cli/netsim.h): partners create and
// edit their own organization's records, and now and then make an edit the broker refuses by
// design; the maintainer approves proposed values, vets organizations and edits anything.
// Every choice comes from the one Rng, drawn in a fixed order, so the same seed gives the
// same edits.
#pragma once

#include "sim/sim_random.h"

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

// Rng and NewId come from cli/sim_random.h (namespace sb::sim, enclosing this one).

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
