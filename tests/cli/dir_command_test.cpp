// The pure helpers of `switchboard dir` (cli/dir_format.h): typing FIELD=VALUE by the schema,
// and turning the agent's JSON into safe, aligned text.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/internal/dir_format.h"

namespace sb::cli {
namespace {

using nlohmann::json;

const FieldSpec* Spec(const char* kind, const char* field) {
  return FieldSchema::Hsds().Field(kind, field);
}

TEST(DirSet, AssignmentSplitsAtTheFirstEquals) {
  auto r = SplitAssignment("description=a=b");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, "description");
  EXPECT_EQ(r->second, "a=b");
  EXPECT_FALSE(SplitAssignment("name").ok());
  EXPECT_FALSE(SplitAssignment("=x").ok());
}

TEST(DirSet, ValuesAreTypedByTheSchema) {
  EXPECT_EQ(
      *ParseFieldValue(Spec("organization", "year_incorporated"), "year_incorporated", "1999"),
      json(1999));
  EXPECT_EQ(*ParseFieldValue(Spec("service", "available_24_7"), "available_24_7", "true"),
            json(true));
  EXPECT_EQ(
      *ParseFieldValue(Spec("organization", "countries_served"), "countries_served", "NG, BJ,,"),
      json::array({"NG", "BJ"}));
  EXPECT_EQ(*ParseFieldValue(Spec("organization", "name"), "name", "007"), json("007"));
}

TEST(DirSet, NumbersAreJsonNumbersInTheirCanonicalForm) {
  EXPECT_EQ(*ParseFieldValue(Spec("location", "latitude"), "latitude", "51.50"), json(51.5));
  EXPECT_EQ(*ParseFieldValue(Spec("phone", "extension"), "extension", "1234"), json(1234));
  auto r = ParseFieldValue(Spec("location", "latitude"), "latitude", "north");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("latitude: must be a number"), std::string::npos);
}

TEST(DirSet, EmptyValueClearsTheField) {
  EXPECT_TRUE(ParseFieldValue(Spec("organization", "name"), "name", "")->is_null());
  EXPECT_TRUE(ParseFieldValue(Spec("organization", "year_incorporated"), "y", "")->is_null());
}

TEST(DirSet, MistypedValuesNameTheField) {
  auto r = ParseFieldValue(Spec("organization", "year_incorporated"), "year_incorporated", "19x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("year_incorporated: must be a whole number"),
            std::string::npos);
  EXPECT_FALSE(ParseFieldValue(Spec("service", "available_24_7"), "a", "yes").ok());
}

TEST(DirSet, UnknownFieldsAreSentAsTextForTheAgentToRefuse) {
  EXPECT_EQ(*ParseFieldValue(nullptr, "colour", "12"), json("12"));
}

TEST(DirFormat, ControlCharactersCannotReachTheTerminal) {
  EXPECT_EQ(Clean("a\x1b[31mb\nc"), "a [31mb c");
  EXPECT_EQ(Clean("x\xc2\x9b"
                  "1m"),
            "x 1m");  // C1 CSI
  EXPECT_EQ(Clean("e\xe2\x80\xae"
                  "vil"),
            "e vil");  // right-to-left override
  EXPECT_EQ(Clean("Montréal"), "Montréal");
}

TEST(DirFormat, TruncateCountsCharactersNotBytes) {
  EXPECT_EQ(Truncate("Montréal", 8), "Montréal");
  EXPECT_EQ(Truncate("Montréal", 5), "Mont…");
  EXPECT_EQ(DisplayWidth(Truncate("ééééééé", 4)), 4u);
}

TEST(DirFormat, FieldTextShowsPendingReviewAndConflicts) {
  json pending = {{"value", "new@x.org"}, {"published", "old@x.org"}, {"pending", true}};
  EXPECT_EQ(FieldText(pending, 40), "new@x.org  [pending review, published: old@x.org]");
  EXPECT_EQ(FieldText(json{{"value", "a"}, {"published", nullptr}, {"pending", true}}, 40),
            "a  [pending review, published: none]");
  json conflict = {
      {"value", "A"}, {"conflict", true}, {"siblings", {{{"value", "A"}}, {{"value", "B"}}}}};
  EXPECT_EQ(FieldText(conflict, 40), "A  [CONFLICT: A | B]");
  EXPECT_EQ(FieldText(json{{"value", {"NG", "BJ"}}}, 40), "NG, BJ");
}

TEST(DirFormat, TableAlignsColumns) {
  Table t({"ID", "NAME"}, {0, 4});
  t.Add({"1", "Safe Harbor"});
  t.Add({"1234", "é"});
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(), "ID    NAME\n1     Saf…\n1234  é\n");
}

TEST(DirExport, CountsOrganizationsAndNestedRecords) {
  json doc = {
      {"organizations",
       {{{"id", "o1"},
         {"services", {{{"id", "s1"}, {"phones", {{{"id", "p1"}, {"languages", {"en"}}}}}}}}}}},
      {"phones", {{{"id", "p2"}}}}};
  EXPECT_EQ(CountHsds(doc), std::make_pair(size_t{1}, size_t{4}));
}

}  // namespace
}  // namespace sb::cli
