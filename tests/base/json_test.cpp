// The one bounded JSON parser and the writer that cannot throw (issue 10).
#include "base/json.h"

#include <gtest/gtest.h>

#include "base/log_limiter.h"

namespace sb {
namespace {

using nlohmann::json;

TEST(Json, ParsesWhatIsWithinTheLimits) {
  Result<json> j = ParseJson(R"({"a": [1, {"b": "ç"}]})");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["a"][1]["b"], "ç");
  EXPECT_EQ(JsonDepth(*j), 3);
}

TEST(Json, RefusesDepthBeforeTheLibraryRecurses) {
  std::string deep = std::string(200'000, '[') + std::string(200'000, ']');
  Result<json> j = ParseJson(deep, "the request body", JsonLimits{1 << 20, 64});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(j.status().message(), "the request body is nested more than 64 levels deep");
  // Brackets inside strings are not nesting.
  EXPECT_TRUE(ParseJson("[\"" + std::string(1000, '[') + "\"]", "x", {1 << 20, 2}).ok());
}

TEST(Json, RefusesSizeWithResourceExhausted) {
  Result<json> j = ParseJson(std::string(100, ' ') + "1", "the payload", JsonLimits{64, 8});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(j.status().message(), "the payload is 101 bytes; the limit is 64");
}

TEST(Json, RefusesTextThatIsNotUtf8AndSaysWhereWithoutRepeatingIt) {
  Result<json> j = ParseJson("{\"name\": \"Ev\xFFil\"}", "the request body");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("the request body is not valid JSON"), std::string::npos);
  EXPECT_EQ(j.status().message().find('\xFF'), std::string::npos) << j.status().message();
  EXPECT_FALSE(ParseJson("{\"a\": 1,}").ok());
  EXPECT_FALSE(ParseJson("").ok());
}

TEST(Json, DumpNeverThrowsOnTextThatIsNotUtf8) {
  json j = {{"name", std::string("Ev\xFFil")}};
  EXPECT_THROW((void)j.dump(), json::type_error);  // what used to stop the broker
  std::string out = DumpJson(j);
  EXPECT_EQ(out, "{\"name\":\"Ev\xEF\xBF\xBDil\"}");
  nlohmann::ordered_json o = {{"z", 1}, {"a", std::string("\xC0")}};
  EXPECT_EQ(DumpJson(o), "{\"z\":1,\"a\":\"\xEF\xBF\xBD\"}");
}

TEST(Json, StoredJsonThatCannotBeReadIsDiscardedNotThrown) {
  EXPECT_TRUE(ParseStoredJson("{not json").is_discarded());
  EXPECT_TRUE(ParseStoredJson(std::string(100, '[') + std::string(100, ']')).is_discarded());
  EXPECT_EQ(ParseStoredJson("{\"a\":1}")["a"], 1);
}

TEST(LogLimiter, AllowsOneLinePerIntervalPerKeyAndCountsTheRest) {
  LogLimiter limiter(10'000);
  uint64_t suppressed = 99;
  EXPECT_TRUE(limiter.Allow("org-a", 1000, &suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(limiter.Allow("org-a", 2000, &suppressed));
  EXPECT_FALSE(limiter.Allow("org-a", 10'999, &suppressed));
  EXPECT_TRUE(limiter.Allow("org-b", 2000, &suppressed));  // another key is not held back
  EXPECT_TRUE(limiter.Allow("org-a", 11'000, &suppressed));
  EXPECT_EQ(suppressed, 2u);
}

}  // namespace
}  // namespace sb
