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

#include <string>
#include <string_view>
#include <vector>

#include "agents/hsds_model.h"
#include "conflict/directory.h"
#include "conflict/field_schema.h"
#include "conflict/views.h"

namespace sb {

// Every live (not deleted) record `reader` may see, as a flat HSDS object (the mapping OUT of
// agents/hsds_model.h applied: the location's own address as an `address` object, categories
// and populations as attributes with the Switchboard taxonomy terms and the taxonomy,
// countries as service areas, 24/7 as a schedule, phone languages, numbers as JSON numbers,
// `extra` merged back). Ordered by kind, then id; derived objects follow their record.
std::vector<HsdsObject> HsdsObjectsOf(const Directory& dir, const FieldSchema& schema,
                                      const Reader& reader);

// The compiled views (the shapes of schema/compiled/<view>.json).
enum class HsdsView { kOrganization, kService, kServiceAtLocation };
// "organization", "service", "service_at_location"; false for any other name.
bool ParseHsdsView(std::string_view name, HsdsView* view);
const char* HsdsViewName(HsdsView view);

// Objects nested by Nesting(): one compiled object per top-level object of `view`'s kind,
// ordered by id. A service embeds its `organization {…}` and `program {…}`.
class HsdsCompiler {
 public:
  explicit HsdsCompiler(std::vector<HsdsObject> objects);
  // The compiled object of `kind` (any kind: its nested objects below it), or null if none.
  nlohmann::json Compile(std::string_view kind, std::string_view id) const;
  // Every compiled object of the view's kind, ordered by id.
  nlohmann::json CompileAll(HsdsView view) const;
  // The flat objects of one kind, ordered by id.
  std::vector<const HsdsObject*> OfKind(std::string_view kind) const;
  const HsdsObject* Find(std::string_view kind, std::string_view id) const;

 private:
  nlohmann::json Build(const HsdsObject& o, int depth, std::string_view from_kind) const;
  std::vector<HsdsObject> objects_;
};

// The JSON array `dir export` writes and GET /v1/export returns: the compiled objects of
// `view` the reader may see.
nlohmann::json ExportCompiled(const Directory& dir, const FieldSchema& schema, const Reader& reader,
                              HsdsView view);

}  // namespace sb
