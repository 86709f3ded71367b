// HSDS 3.0 export: the directory as the official objects (agents/hsds_model.h gives the
// mapping), flat and compiled (schema/compiled/*.json: organization, service,
// service_at_location and their lists).
//
// Only what the reader may see is exported: each record's published projection
// (conflict/views.h PublishedProjection) filtered by the reader's audience (AudienceView);
// records of organizations that are not vetted only to their owner and maintainers;
// confidential addresses and coordinates never to readers outside the audience (such a
// location then has no addresses[] at all); capacities only to readers the capacity fields'
// audience admits. An object that would be schema-invalid because a required value is not
// published (a phone whose number was never approved, a service without an approved name)
// is left out rather than exported invalid.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agents/hsds_model.h"
#include "conflict/directory.h"
#include "conflict/field_schema.h"
#include "conflict/views.h"

namespace sb {

// Readers: Reader{org, false} is a partner (published values of vetted organizations, its own
// records as proposed); Reader{"", true} or Reader{any, true} a maintainer or a stand-alone
// agent (everything as proposed, as the local API shows it); Reader{"", false} the public:
// as a partner, and without the fields whose audience is not kPublic (bed capacities).
bool IsPublicReader(const Reader& reader);

// Every live (not deleted) record `reader` may see, as a flat HSDS object (the mapping OUT of
// agents/hsds_model.h applied: the location's own address as an `address` object, categories
// and populations as attributes with the Switchboard taxonomy terms and the taxonomy,
// countries as service areas, 24/7 as a schedule, capacities, phone languages, byday text,
// numbers as JSON numbers, `extra` merged back). In record id order, each record followed by
// the objects derived from it; the Switchboard taxonomy terms and the taxonomy (when used, and
// not records of the directory themselves) last. Link fields are kept (flat objects carry
// them); a link to a record of the directory not exported is left out (a link to an id outside the
// directory is kept), and an object whose owning link names an object left out as invalid is left
// out too. `metadata` objects are not included (see HsdsExportOf).
std::vector<HsdsObject> HsdsObjectsOf(const Directory& dir, const FieldSchema& schema,
                                      const Reader& reader);

// The flat objects with what the compiled views and the API need besides.
struct HsdsExport {
  std::vector<HsdsObject> objects;  // as HsdsObjectsOf
  // One `metadata` object per exported record (kind "metadata", with resource_id and
  // resource_type): its last change as the reader sees it (the newest displayed value's
  // stamp, field and writer replica; previous_value is "" because the history keeps no old
  // values).
  std::vector<HsdsObject> metadata;
  // Each exported object's last change (derived objects: their record's), milliseconds since
  // the epoch; what the API's modified_after compares.
  std::map<std::string, uint64_t> modified_ms;
  // Objects left out because a required value is missing or unpublished: "phone <id>: number".
  std::vector<std::string> left_out;
};
HsdsExport HsdsExportOf(const Directory& dir, const FieldSchema& schema, const Reader& reader);

// The compiled views (the shapes of schema/compiled/<view>.json).
enum class HsdsView { kOrganization, kService, kServiceAtLocation };
// "organization", "service", "service_at_location"; false for any other name.
bool ParseHsdsView(std::string_view name, HsdsView* view);
const char* HsdsViewName(HsdsView view);

// Objects nested by Nesting(): one compiled object per top-level object of `view`'s kind,
// ordered by id. A service embeds its `organization {…}` and `program {…}`.
// An object nested in its parent leaves out the link field the nesting implies; an object
// never embeds a kind it is already inside (a service inside an organization has no
// `organization`), so nothing repeats without end. Thread-compatible; immutable once built.
class HsdsCompiler {
 public:
  explicit HsdsCompiler(HsdsExport flat);
  // The compiled (fully nested) object of `kind` with `id`, or null if there is none.
  nlohmann::json Compile(std::string_view kind, std::string_view id) const;
  // The list shape (compiled/<kind>_list.json): the object's own fields, with, for a service,
  // `organization` and `program` (their own fields), and for a service_at_location `location`
  // (its own fields) and `service` (in the list shape).
  nlohmann::json CompileListItem(std::string_view kind, std::string_view id) const;
  // Every compiled object of the view's kind, in id order.
  nlohmann::json CompileAll(HsdsView view) const;
  // The flat objects of one kind, in id order.
  std::vector<const HsdsObject*> OfKind(std::string_view kind) const;
  const HsdsObject* Find(std::string_view kind, std::string_view id) const;
  // Objects of `kind` whose `link_field` names `parent_id`.
  std::vector<const HsdsObject*> Linked(std::string_view kind, std::string_view link_field,
                                        std::string_view parent_id) const;
  // The last change of an object (0 when unknown).
  uint64_t ModifiedMs(const std::string& id) const;
  const HsdsExport& flat() const { return flat_; }

 private:
  nlohmann::json Build(const HsdsObject& o, std::vector<std::string>* inside) const;
  nlohmann::json Own(const HsdsObject& o) const;

  HsdsExport flat_;
  std::map<std::pair<std::string, std::string>, size_t, std::less<>> by_kind_id_;
  std::map<std::string, std::vector<size_t>, std::less<>> by_link_;  // kind|field|id
  std::map<std::string, std::vector<size_t>, std::less<>> metadata_of_;
};

// The JSON array `dir export` writes and GET /v1/export returns: the compiled objects of
// `view` the reader may see.
nlohmann::json ExportCompiled(const Directory& dir, const FieldSchema& schema, const Reader& reader,
                              HsdsView view);

}  // namespace sb
