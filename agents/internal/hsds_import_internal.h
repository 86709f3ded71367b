// Between the two halves of the HSDS import (agents/hsds_import.h): the flattening of JSON
// documents (hsds_import.cpp) and the mapping of flat objects to edits (hsds_import_edits.cpp).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agents/hsds_import.h"

namespace sb::hsds_import {

// What the flattening knows beyond the objects themselves.
struct FlatContext {
  // child id -> the id of the object that embeds it and names it (service.program,
  // service_at_location.location, attribute.taxonomy_term): an owner to inherit when the
  // child names no organization of its own.
  std::map<std::string, std::string> embedded_by;
  // The project's own older envelope: HSDS's required fields are not enforced (it never
  // required them), and `owner`/`deleted` properties are refused as before rather than kept.
  bool legacy = false;
  // Problems found past kMaxListedProblems: counted, not listed.
  size_t unlisted_problems = 0;
};

// At most this many problems are listed (a hostile document of a million bad elements must
// not make a million-line answer); the rest are counted in one last problem.
inline constexpr size_t kMaxListedProblems = 10000;

// EditsFromHsdsObjects with the flattening's context; `problems` found while flattening come
// first in the result.
Result<HsdsImportResult> EditsFromObjects(const FieldSchema& schema,
                                          std::vector<HsdsObject> objects,
                                          const HsdsImportOptions& options, FlatContext context,
                                          std::vector<ImportProblem> problems);

// "path.key", or "key" at the root.
std::string JoinPath(const std::string& path, const std::string& key);

}  // namespace sb::hsds_import
