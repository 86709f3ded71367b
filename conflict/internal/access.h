// Raw access to the parts of a record, a register and a set, for conflict/ itself: the codecs
// (decoding builds states part by part and then checks them) and the views (which drop fields
// and their dots together). Everything else edits states only through deltas and joins, and
// the named operations that keep the invariants (views.h AudienceView, record.h Retract), so
// no code outside conflict/ includes this header. Tests may, to build states and deltas no
// honest replica produces (random states for the codec, forged contexts for the broker).
//
// Whoever edits through these keeps the invariants the types state: every entry's dot is in
// its record's context, no field is empty, and a dot tags the value of one field only. Nothing
// checks them here (the decoders check them on what they build).
#pragma once

#include <string>

#include "conflict/aw_set.h"
#include "conflict/causal_context.h"
#include "conflict/flat_map.h"
#include "conflict/mv_register.h"
#include "conflict/record.h"

namespace sb::internal {

struct Access {
  static CausalContext& Context(Record& r) { return r.context_; }
  static FlatMap<std::string, Field>& Fields(Record& r) { return r.fields_; }
  static MvRegister::Entries& Entries(MvRegister& reg) { return reg.entries_; }
  static FlatMap<std::string, FlatSet<Dot>>& Elements(AwSet& set) { return set.elements_; }
};

}  // namespace sb::internal
