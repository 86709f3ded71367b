#include "broker/ingest.h"

#include <map>
#include <set>

#include "base/utf8.h"
#include "conflict/codec.h"
#include "conflict/replica.h"
#include "conflict/views.h"

namespace sb {

namespace {

// Every dot the record delta brings as an entry (register entries and set element adds).
std::set<Dot> NewDots(const Record& r) {
  std::set<Dot> out;
  for (const auto& [name, f] : r.fields()) {
    if (const auto* reg = std::get_if<MvRegister>(&f)) {
      for (const auto& [dot, e] : reg->entries()) out.insert(dot);
    } else {
      for (const auto& [el, dots] : std::get<AwSet>(f).raw()) out.insert(dots.begin(), dots.end());
    }
  }
  return out;
}

std::set<Dot> FieldDots(const Field& f) {
  std::set<Dot> out;
  if (const auto* reg = std::get_if<MvRegister>(&f)) {
    for (const auto& [dot, e] : reg->entries()) out.insert(dot);
  } else {
    for (const auto& [el, dots] : std::get<AwSet>(f).raw()) out.insert(dots.begin(), dots.end());
  }
  return out;
}

// The displayed text of `field` in the delta itself, if it writes one.
std::string DeltaText(const Record& r, const char* field) {
  auto v = r.Displayed(field);
  return v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : "";
}

bool WritesDelete(const Record& r) {
  auto v = r.Displayed(kDeletedField);
  return v && *v == Value(true);
}

Status CheckRecord(const Record& d, const Record* current, const Author& who,
                   const std::function<const Record*(const std::string&)>& lookup,
                   const Roster& roster) {
  const FieldSchema& schema = FieldSchema::Hsds();
  const std::string rid = "record " + d.id() + ": ";
  // A repeat of something the broker already holds (a push whose ack was lost) changes
  // nothing: acknowledge it rather than judge it again against the state it created.
  if (current && current->context().Includes(d.context())) {
    Record joined = *current;
    joined.Join(d);
    if (joined == *current) return Status::Ok();
  }
  // Dots: new entries are the author's own; the context claims nothing unseen of others.
  for (const Dot& dot : NewDots(d)) {
    if (dot.replica != who.replica) {
      return Status::PermissionDenied(rid + "carries a write attributed to another replica");
    }
  }
  FlatMap<ReplicaId, uint64_t> others_vector;
  FlatSet<Dot> others_cloud;
  for (const auto& [replica, n] : d.context().vector()) {
    if (replica != who.replica) others_vector[replica] = n;
  }
  for (const Dot& dot : d.context().cloud()) {
    if (dot.replica != who.replica) others_cloud.insert(dot);
  }
  CausalContext others =
      CausalContext::FromParts(std::move(others_vector), std::move(others_cloud));
  if (!others.empty() && (!current || !current->context().Includes(others))) {
    return Status::PermissionDenied(rid + "claims to have seen writes the broker has not");
  }
  if (who.role == Role::kMaintainer) return Status::Ok();

  // Partners: ownership.
  if (current) {
    std::string owner = current->Owner();
    if (owner != who.org) {
      return Status::PermissionDenied(
          rid + "belongs to " +
          (owner.empty() ? std::string("no organization") : "organization " + owner) +
          "; only its owner or a maintainer may change it");
    }
  } else if (DeltaText(d, kOwnerField) != who.org) {
    return Status::PermissionDenied(rid +
                                    "a new record must belong to its creator's "
                                    "organization (owner " +
                                    who.org + ")");
  } else if (d.kind() == "organization" && d.id() != who.org) {
    // An organization's record id is its enrolled id: a partner lists itself, and nobody
    // else (squatting an id first would lock the real organization out of its own listing).
    return Status::PermissionDenied(
        rid +
        "a partner creates only its own organization record, whose id is its "
        "enrolled id (" +
        who.org + ")");
  } else if (d.id() != who.org && roster.Find(d.id())) {
    return Status::PermissionDenied(rid + "that id is organization " + d.id() +
                                    "'s enrolled id; only its own organization record has it");
  }
  // Maintainer-only fields: not written, and not erased through the context (a delete may
  // supersede them along with everything else).
  bool is_delete = WritesDelete(d);
  for (const auto& [name, f] : d.fields()) {
    const FieldSpec* spec = schema.Field(d.kind(), name);
    if (!spec || !spec->maintainer_only) continue;
    if (name == kOwnerField && !current && DeltaText(d, kOwnerField) == who.org) continue;
    return Status::PermissionDenied(rid + d.kind() + "." + name +
                                    " may be changed only by a maintainer");
  }
  if (current && !is_delete) {
    for (const auto& [name, f] : current->fields()) {
      const FieldSpec* spec = schema.Field(current->kind(), name);
      if (!spec || !spec->maintainer_only) continue;
      for (const Dot& dot : FieldDots(f)) {
        if (d.context().Contains(dot)) {
          return Status::PermissionDenied(rid + current->kind() + "." + name +
                                          " may be changed only by a maintainer");
        }
      }
    }
  }
  // Links to the organization must name the partner's own.
  std::string org_link = DeltaText(d, "organization_id");
  if (!org_link.empty() && org_link != who.org) {
    return Status::PermissionDenied(rid + "organization_id must be the partner's own (" + who.org +
                                    ")");
  }
  // And links to other records must name the partner's own records, so nothing can be
  // attached to another organization's listing.
  for (const char* link : {"service_id", "location_id", "phone_id"}) {
    std::string target = DeltaText(d, link);
    if (target.empty()) continue;
    const Record* t = lookup(target);
    if (t && t->Owner() != who.org) {
      return Status::PermissionDenied(rid + link + " names a record of another organization");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Delta> ValidatePushImpl(const proto::SignedDelta& sd, const Author& who,
                               const std::function<const Record*(const std::string&)>& lookup,
                               const Roster& roster, const HlcClock& clock, uint64_t now_ms,
                               const IngestLimits& limits) {
  if (sd.author != who.org) {
    return Status::PermissionDenied("the delta names author '" + Printable(sd.author, 64) +
                                    "' but the connection is authenticated as " + who.org);
  }
  size_t limit =
      who.role == Role::kMaintainer ? limits.maintainer_delta_bytes : limits.partner_delta_bytes;
  if (sd.delta.size() > limit) {
    return Status::ResourceExhausted("delta of " + std::to_string(sd.delta.size()) +
                                     " bytes exceeds the limit of " + std::to_string(limit));
  }
  std::optional<Member> member = roster.Find(who.org);
  if (!member || member->revoked) return Status::PermissionDenied(who.org + " is not enrolled");
  if (sd.signer != who.org ||
      !VerifySignature(member->identity.sign_public, sd.delta, sd.signature)) {
    return Status::PermissionDenied("the signature does not verify with " + who.org +
                                    "'s signing key");
  }
  ASSIGN_OR_RETURN(Delta delta, DecodeDelta(sd.delta));
  if (delta.author != who.replica) {
    return Status::PermissionDenied("the delta's replica is not this session's replica");
  }
  if (delta.records.empty()) return Status::InvalidArgument("the delta holds no records");
  RETURN_IF_ERROR(clock.CheckSkew(delta.stamp, now_ms));
  // Schema checks, against the current kinds of the records.
  Directory kinds;
  for (const Record& r : delta.records) {
    if (const Record* cur = lookup(r.id())) kinds.Join(Record(cur->id(), cur->kind()));
  }
  RETURN_IF_ERROR(ValidateDelta(delta, FieldSchema::Hsds(), kinds));
  std::set<std::string> seen;
  for (const Record& r : delta.records) {
    if (!seen.insert(r.id()).second) {
      return Status::InvalidArgument("record " + r.id() + " appears twice in one delta");
    }
    RETURN_IF_ERROR(CheckRecord(r, lookup(r.id()), who, lookup, roster));
  }
  return delta;
}

bool Visible(Audience audience, bool is_owner, Role role) {
  return CanRead(audience, is_owner, role == Role::kMaintainer);
}

Delta FilterFor(const Delta& delta, const std::string& org, Role role,
                const std::function<const Record*(const std::string&)>& lookup, bool* filtered) {
  const FieldSchema& schema = FieldSchema::Hsds();
  const Reader reader{org, role == Role::kMaintainer};
  Delta out{delta.author, delta.stamp, {}};
  *filtered = false;
  for (const Record& r : delta.records) {
    // Judged on the record delta and on the broker's current state of the record.
    Record view = AudienceView(r, reader, schema, lookup(r.id()));
    if (view.fields().size() != r.fields().size()) *filtered = true;
    if (view.fields().empty() && !r.fields().empty()) continue;  // nothing of it is visible
    out.records.push_back(std::move(view));
  }
  return out;
}

}  // namespace sb
