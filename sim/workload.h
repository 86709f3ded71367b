// The simulators' one workload generator: a pool of the records created so far, random valid
// values for the HSDS schema's fields, and the choice of the next edit. Two policies share it:
//   - Any (the CRDT simulator): every replica edits any record, creates records of any kind,
//     deletes, restores, approves;
//   - Partner / Maintainer (the protocol simulator): partners create and edit their own
//     organization's records and now and then make an edit the broker refuses by design; the
//     maintainer approves proposed values, vets organizations and edits anything.
// A profile gives each simulator its kinds' field plans and its words. Every choice comes
// from the one Rng, drawn in a fixed order, so the same seed gives the same edits: a seed's
// run depends on the order of the draws and on the lengths of the profile's lists.
#pragma once

#include "sim/sim_random.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conflict/edit.h"
#include "conflict/field_schema.h"
#include "conflict/record.h"

namespace sb::sim {

// The fields a workload writes in records of one kind.
struct KindPlan {
  std::string kind;
  std::vector<std::string> scalars;    // the first is the hot field, written most often
  std::vector<std::string> sets;       // set fields
  std::vector<std::string> moderated;  // fields a maintainer approves
};

// The words values are made of.
struct Vocabulary {
  std::vector<std::string> countries;  // fewer than a set may hold
  std::vector<std::string> languages;
  std::vector<std::string> cities;
  std::vector<std::string> org_names;
  std::vector<std::string> org_suffixes;  // "<name> <suffix>"; empty: "<name> <two digits>"
  std::vector<std::string> service_names;
  std::vector<std::string> notes;
  std::vector<std::string> mailboxes;
  std::vector<std::string> domains;
};

struct WorkloadProfile {
  std::vector<KindPlan> plans;  // organization, service, phone, location
  Vocabulary words;
};
const WorkloadProfile& CrdtProfile();      // the CRDT simulator's (`switchboard sim`)
const WorkloadProfile& ProtocolProfile();  // the protocol simulator's (`sim --network`)

// Adds or removes one element of a set field.
struct ElementChange {
  std::string field;
  std::string element;
  bool add = true;
};

// One operation of the workload: an edit, and what it is for.
struct Op {
  RecordEdit edit;                       // values to write, or remove, or restore
  std::optional<ElementChange> element;  // instead of edit's values: one set element (Any)
  bool planted = false;                  // the broker must refuse it (when it changes anything)
  bool creates = false;                  // creates edit.id: AddRecord it once it is applied
};

// Reads the editing node's current record (a copy), or nullopt.
using LocalLookup = std::function<std::optional<Record>(const std::string& id)>;

// Chooses edits. Not thread-safe; `rng` and `profile` must outlive it.
class Workload {
 public:
  struct Options {
    bool planted = true;   // partners sometimes make edits the broker must refuse
    bool removals = true;  // Partner/Maintainer set edits may remove an element
  };
  Workload(Rng& rng, const WorkloadProfile& profile, Options options);

  // A record now exists (owned by node `owner`'s organization, for Partner).
  void AddRecord(const std::string& id, const std::string& kind, size_t owner);

  // The next edit of any replica, which reads its state through `local`.
  Op Any(const LocalLookup& local);

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
    size_t owner = 0;  // the node whose organization owns it
  };

  const KindPlan& PlanOf(const std::string& kind) const;
  // Any's parts.
  const PoolRecord& AnyTarget();
  Op AnyCreate();
  Op AnyApprove(const PoolRecord& target, const KindPlan& plan, const std::optional<Record>& rec);
  Op AnyEditSet(const PoolRecord& target, const KindPlan& plan, const std::optional<Record>& rec);
  // Partner's and Maintainer's parts.
  Op OwnCreate(const std::string& org);
  // An edit the broker refuses: another organization's record, or a maintainer-only field.
  Op Plant(size_t agent, const std::string& org, const LocalLookup& local);
  Op OwnEdit(const PoolRecord& target, const std::optional<Record>& rec, bool maintainer);
  // Random valid values for the HSDS schema's fields.
  Value MakeValue(const std::string& kind, const std::string& field);
  std::string Element(const std::string& kind, const std::string& field);
  std::string Digits(size_t n);
  std::string Text(const std::string& kind, const std::string& field, const FieldSpec& spec);

  Rng& rng_;
  const WorkloadProfile& profile_;
  const Vocabulary& words_;
  const FieldSchema& schema_;
  Options options_;
  std::vector<PoolRecord> pool_;
  std::vector<std::string> orgs_;                   // organization records, in creation order
  std::map<size_t, std::vector<size_t>> by_owner_;  // node -> indexes into pool_
};

}  // namespace sb::sim
