// Small helpers the unit tests of the sync path share: record ids, an identity for an
// organization and a record edit of scalar values. Header-only; for test binaries (GoogleTest).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>

#include "conflict/edit.h"
#include "crypto/identity.h"

namespace sb::testing {

// A record or organization id that shows `n`: "0000000a-0000-4000-8000-000000000000".
inline std::string Uuid(unsigned n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-000000000000", n);
  return buf;
}

// A fresh identity (keys) for `org`; fails the test if one cannot be made.
inline Identity Gen(const std::string& org) {
  Result<Identity> id = Identity::Generate(org);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return std::move(id).value();
}

// An edit of record `id` of `kind` writing `values`.
inline RecordEdit Edit(const std::string& id, const std::string& kind,
                       std::map<std::string, Value> values) {
  RecordEdit e;
  e.id = id;
  e.kind = kind;
  e.values = std::move(values);
  return e;
}

}  // namespace sb::testing
