// Views: pure functions of a record's state (DESIGN.md §4).
// - proposed: each field's latest value (the displayed sibling) — what the owner sees;
// - published: for moderated fields, the value a maintainer approved (the field's
//   "<name>@published" shadow); other fields as proposed — what other partners see;
// - conflicts: fields with more than one sibling, and records deleted while someone edited
//   them concurrently; both are review items, never silent overwrites.
// Equal states give equal views, byte for byte.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conflict/field_schema.h"
#include "conflict/record.h"

namespace sb {

struct Sibling {
  Value value;
  Hlc stamp;
  Dot dot;  // dot.replica is the writer
  friend bool operator==(const Sibling&, const Sibling&) = default;
};

struct FieldView {
  std::optional<Value> value;         // displayed value of a scalar field
  std::vector<std::string> elements;  // a set field's elements, sorted
  std::vector<Sibling> siblings;      // displayed first; more than one means a conflict
  bool pending = false;               // moderated and proposed != published
  friend bool operator==(const FieldView&, const FieldView&) = default;
};

struct RecordView {
  std::string id;
  std::string kind;
  std::string owner;
  bool deleted = false;
  std::map<std::string, FieldView> fields;  // without the "@published" shadows
  friend bool operator==(const RecordView&, const RecordView&) = default;
};

enum class ConflictKind { kSiblings, kEditedWhileDeleted, kTooManySiblings };
const char* ConflictKindName(ConflictKind k);

struct Conflict {
  std::string record_id;
  std::string field;  // the field in conflict ("" for a record-level conflict)
  ConflictKind kind;
  std::vector<Sibling> siblings;
  friend bool operator==(const Conflict&, const Conflict&) = default;
};

// More siblings than this on one field is reported as kTooManySiblings (still kept).
inline constexpr size_t kSiblingReviewLimit = 8;

RecordView ProposedView(const Record& r, const FieldSchema& schema);
RecordView PublishedView(const Record& r, const FieldSchema& schema);
std::vector<Conflict> Conflicts(const Record& r, const FieldSchema& schema);

// The record as a partner other than its owner may read it: each moderated field holds its
// published value (and is absent when nothing was ever approved), and rejection notes and
// fields whose effective audience is the owner or maintainers (a confidential location's
// address) are left out. Its ProposedView equals its PublishedView, with nothing pending. The
// causal context is unchanged: the projection is for reading, never for joining or editing.
Record PublishedProjection(const Record& r, const FieldSchema& schema);

// True when `organization` is an organization record a maintainer vetted (approved = true).
// Records of organizations that are not vetted are unpublished: other partners' agents leave
// them out of listings and exports.
bool IsVetted(const Record& organization);

// Who may read `field` of `r`: the schema's audience, narrowed to kOwner for the address
// fields of a location whose address_confidential is true.
Audience EffectiveAudience(const Record& r, const FieldSpec& spec);

// --- Audience filtering: the copy of a record a reader may receive ---

// Who receives a copy: an organization, as a partner or as a maintainer.
struct Reader {
  std::string organization;  // compared with a record's owner
  bool maintainer = false;
};

// Whether a reader may read a field with `audience`, as the owner of its record or not.
bool CanRead(Audience audience, bool is_owner, bool maintainer);

// `r` without the fields `hidden` names, and without their writes in the causal context: the
// dots of the values they hold are subtracted, so a replica joining the result does not count
// those writes as seen (it would take the values for deleted when they reach it later, e.g.
// when an address stops being confidential). Superseded dots stay: what the fields' writes
// superseded is still superseded. Empty fields are never kept, so a record whose every field
// is hidden comes back with no fields (and a context).
//
// Law (tests/conflict/audience_properties_test.cpp): for a fixed `hidden`,
//   HideFields(a ⊔ b) == HideFields(a) ⊔ HideFields(b)
// for states of one record whose dots each tag one field's value (so a write is never both
// hidden and shown; every state the operations of Record produce is so).
Record HideFields(const Record& r, const std::function<bool(const std::string& field)>& hidden);

// Whether `reader` may receive field `field` of `r`, judged on `r` and on `basis` (the state
// the sender holds of the record, if `r` is a delta of it; nullptr: `r` alone): the schema
// knows the field, and its effective audience admits the reader on both. The reader is the
// owner when either names its organization as the owner.
bool ReaderMaySee(const Record& r, const std::string& field, const Reader& reader,
                  const FieldSchema& schema, const Record* basis = nullptr);

// The copy of `r` (a state or a delta) that `reader` may receive: HideFields of the fields it
// may not see (ReaderMaySee). The broker sends every partner this view of each record delta
// (broker/ingest.h FilterFor).
//
// Law: AudienceView(a ⊔ b) == AudienceView(a) ⊔ AudienceView(b) when the reader's audience is
// the same on a, b and a ⊔ b (ReaderMaySee gives each field the same answer on the three; a
// record's kind, owner and address_confidential decide it). Not otherwise, by design: a value
// sent before its location's address became confidential stays with its reader, and one
// written while it was confidential never reaches it; the two sides differ by those values.
Record AudienceView(const Record& r, const Reader& reader, const FieldSchema& schema,
                    const Record* basis = nullptr);

}  // namespace sb
