#include "conflict/field_schema.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "conflict/record.h"

namespace sb {
namespace {

const FieldSchema& Hsds() {
  return FieldSchema::Hsds();
}

void ExpectAccepts(Pattern p, std::vector<std::string> good) {
  for (const auto& s : good) EXPECT_TRUE(MatchesPattern(p, s)) << "should accept '" << s << "'";
}
void ExpectRefuses(Pattern p, std::vector<std::string> bad) {
  for (const auto& s : bad) EXPECT_FALSE(MatchesPattern(p, s)) << "should refuse '" << s << "'";
}

// The error must name "kind.field" and contain the rule.
void ExpectRefusal(const Status& s, const std::string& where, const std::string& rule) {
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(where), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(rule), std::string::npos) << s.message();
}

TEST(Pattern, E164NeedsAPlusAndEightToFifteenDigitsNotStartingWithZero) {
  ExpectAccepts(Pattern::kE164,
                {"+14155550123", "+12345678", "+123456789012345", "+2348031234567"});
  ExpectRefuses(Pattern::kE164, {"", "14155550123", "+0123456789", "+1234567", "+1234567890123456",
                                 "+1415555012a", "+1 415 555 0123", "++14155550123"});
}

TEST(Pattern, UrlNeedsHttpOrHttpsAndAHostName) {
  ExpectAccepts(Pattern::kUrl, {"https://example.org", "http://a.example.org/path?q=1#x",
                                "https://example.org:8080/x", "https://my-site.example.org/"});
  ExpectRefuses(Pattern::kUrl,
                {"", "ftp://example.org", "https://", "https://localhost", "example.org",
                 "https://exa mple.org", "https://example..org", "https://.example.org",
                 "https://example.org:80a/", "https://example.org/a b", "javascript:alert(1)"});
}

TEST(Pattern, EmailNeedsOneAtAndADomainWithADot) {
  ExpectAccepts(Pattern::kEmail, {"help@example.org", "a.b+c_d%e-f@mail.example.co"});
  ExpectRefuses(Pattern::kEmail, {"", "@example.org", "help@", "a@b@example.org", "help@localhost",
                                  "a b@example.org", "help@example.org.", "help(at)example.org"});
}

TEST(Pattern, CountryIsTwoUpperCaseLetters) {
  ExpectAccepts(Pattern::kCountry, {"NG", "US", "MX"});
  ExpectRefuses(Pattern::kCountry, {"", "ng", "Ng", "NGA", "N", "N1", "N "});
}

TEST(Pattern, LanguageIsTwoLowerCaseLetters) {
  ExpectAccepts(Pattern::kLanguage, {"es", "en", "yo"});
  ExpectRefuses(Pattern::kLanguage, {"", "ES", "Es", "spa", "e", "e1"});
}

TEST(Pattern, UuidIsLowercaseEightFourFourFourTwelve) {
  ExpectAccepts(Pattern::kUuid,
                {"1b4e28ba-2fa1-11d2-883f-0016d3cca427", "00000000-0000-4000-8000-000000000001"});
  ExpectRefuses(Pattern::kUuid,
                {"", "1B4E28BA-2FA1-11D2-883F-0016D3CCA427", "1b4e28ba2fa111d2883f0016d3cca427",
                 "1b4e28ba-2fa1-11d2-883f-0016d3cca42", "1b4e28ba-2fa1-11d2-883f-0016d3cca4277",
                 "1b4e28ba-2fa1-11d2-883f_0016d3cca427", "1b4e28ba-2fa1-11d2-883f-0016d3cca42g"});
}

TEST(Pattern, TimeIsTwentyFourHourHhMm) {
  ExpectAccepts(Pattern::kTime, {"00:00", "09:30", "23:59"});
  ExpectRefuses(Pattern::kTime, {"", "24:00", "12:60", "9:30", "0930", "09:3a", "09-30", "09:300"});
}

TEST(Pattern, DateIsYyyyMmDdWithAValidMonthAndDay) {
  ExpectAccepts(Pattern::kDate, {"2024-02-29", "2024-12-31", "1999-01-01"});
  ExpectRefuses(Pattern::kDate, {"", "2024-13-01", "2024-00-10", "2024-01-32", "2024-01-00",
                                 "24-01-01", "2024/01/01", "2024-1-01", "2024-01-0a"});
}

TEST(Pattern, DecimalIsOptionalMinusDigitsAndOptionalFraction) {
  ExpectAccepts(Pattern::kDecimal, {"12", "-12.5", "0.0", "6.524379", "-180"});
  ExpectRefuses(Pattern::kDecimal, {"", "-", "1.", ".5", "1e5", "1.2.3", "+1", "1,5", "--1"});
}

TEST(Pattern, NoneAcceptsAnything) {
  ExpectAccepts(Pattern::kNone, {"", "anything at all"});
}

TEST(FieldSchema, PatternRefusalNamesTheFieldAndTheRule) {
  ExpectRefusal(Hsds().ValidateValue("phone", "number", Value(std::string("555-1234"))),
                "phone.number", PatternRule(Pattern::kE164));
  ExpectRefusal(Hsds().ValidateValue("organization", "website", Value(std::string("ftp://x.org"))),
                "organization.website", PatternRule(Pattern::kUrl));
  ExpectRefusal(Hsds().ValidateValue("schedule", "opens_at", Value(std::string("25:00"))),
                "schedule.opens_at", PatternRule(Pattern::kTime));
  EXPECT_TRUE(Hsds().ValidateValue("phone", "number", Value(std::string("+14155550123"))).ok());
}

TEST(FieldSchema, EnumAcceptsOnlyItsValuesAndListsThem) {
  EXPECT_TRUE(Hsds().ValidateValue("service", "status", Value(std::string("active"))).ok());
  ExpectRefusal(Hsds().ValidateValue("service", "status", Value(std::string("open"))),
                "service.status", "must be one of active, inactive, defunct, temporarily closed");
}

TEST(FieldSchema, IntegerMustBeWithinItsRange) {
  EXPECT_TRUE(Hsds().ValidateValue("organization", "year_incorporated", Value(int64_t{1800})).ok());
  EXPECT_TRUE(Hsds().ValidateValue("organization", "year_incorporated", Value(int64_t{2100})).ok());
  ExpectRefusal(Hsds().ValidateValue("organization", "year_incorporated", Value(int64_t{1799})),
                "organization.year_incorporated", "must be between 1800 and 2100 (got 1799)");
  ExpectRefusal(Hsds().ValidateValue("service", "capacity_beds_available", Value(int64_t{-1})),
                "service.capacity_beds_available", "must be between 0 and 100000");
}

TEST(FieldSchema, TextMustRespectMaxAndMinLength) {
  EXPECT_TRUE(Hsds().ValidateValue("organization", "name", Value(std::string(200, 'a'))).ok());
  ExpectRefusal(Hsds().ValidateValue("organization", "name", Value(std::string(201, 'a'))),
                "organization.name", "longer than 200 bytes (201)");
  ExpectRefusal(Hsds().ValidateValue("organization", "name", Value(std::string())),
                "organization.name", "at least 1");
}

TEST(FieldSchema, TextRefusesControlCharactersButAllowsNewlinesAndTabs) {
  EXPECT_TRUE(Hsds().ValidateValue("service", "description", Value(std::string("a\nb\tc"))).ok());
  ExpectRefusal(Hsds().ValidateValue("service", "description", Value(std::string("a\x01z"))),
                "service.description", "control character");
  ExpectRefusal(Hsds().ValidateValue("service", "description", Value(std::string("a\0z", 3))),
                "service.description", "control character");
}

TEST(FieldSchema, WrongValueTypeIsRefusedNamingBothTypes) {
  ExpectRefusal(
      Hsds().ValidateValue("organization", "year_incorporated", Value(std::string("1990"))),
      "organization.year_incorporated", "must be integer, got text");
  ExpectRefusal(Hsds().ValidateValue("service", "available_24_7", Value(int64_t{1})),
                "service.available_24_7", "must be boolean, got integer");
  ExpectRefusal(Hsds().ValidateValue("service", "name", Value(true)), "service.name",
                "must be text, got boolean");
  ExpectRefusal(Hsds().ValidateValue("service", "status", Value(int64_t{1})), "service.status",
                "must be enum, got integer");
}

TEST(FieldSchema, NullClearsAScalarButNotASet) {
  EXPECT_TRUE(Hsds().ValidateValue("phone", "number", Value(Null{})).ok());
  ExpectRefusal(Hsds().ValidateValue("phone", "languages", Value(Null{})), "phone.languages",
                "is a set");
  ExpectRefusal(Hsds().ValidateValue("phone", "languages", Value(std::string("es"))),
                "phone.languages", "add or remove elements");
}

TEST(FieldSchema, UnknownKindAndUnknownFieldAreRefused) {
  Status kind = Hsds().ValidateValue("shelter", "name", Value(std::string("x")));
  EXPECT_EQ(kind.code(), Code::kInvalidArgument);
  EXPECT_NE(kind.message().find("unknown kind 'shelter'"), std::string::npos) << kind.message();
  EXPECT_NE(kind.message().find("organization"), std::string::npos) << kind.message();
  ExpectRefusal(Hsds().ValidateValue("phone", "fax_number", Value(std::string("x"))),
                "phone.fax_number", "unknown field");
  ExpectRefusal(Hsds().ValidateElement("phone", "dialects", "es"), "phone.dialects",
                "unknown field");
  EXPECT_EQ(Hsds().ValidateKind("phone").code(), Code::kOk);
  EXPECT_EQ(Hsds().ValidateKind("").code(), Code::kInvalidArgument);
}

TEST(FieldSchema, SetElementsAreCheckedByPatternOrEnum) {
  EXPECT_TRUE(Hsds().ValidateElement("organization", "countries_served", "NG").ok());
  ExpectRefusal(Hsds().ValidateElement("organization", "countries_served", "Nigeria"),
                "organization.countries_served", PatternRule(Pattern::kCountry));
  EXPECT_TRUE(Hsds().ValidateElement("service", "categories", "legal").ok());
  ExpectRefusal(Hsds().ValidateElement("service", "categories", "spa"), "service.categories",
                "must be one of");
  EXPECT_TRUE(Hsds().ValidateElement("phone", "languages", "es").ok());
  ExpectRefusal(Hsds().ValidateElement("phone", "languages", "ES"), "phone.languages",
                PatternRule(Pattern::kLanguage));
  ExpectRefusal(Hsds().ValidateElement("phone", "number", "+14155550123"), "phone.number",
                "not a set");
}

TEST(FieldSchema, ModeratedFieldsHaveMaintainerOnlyPublishedShadows) {
  const FieldSpec* number = Hsds().Field("phone", "number");
  const FieldSpec* shadow = Hsds().Field("phone", "number@published");
  ASSERT_NE(number, nullptr);
  ASSERT_NE(shadow, nullptr);
  EXPECT_TRUE(number->moderated);
  EXPECT_FALSE(number->maintainer_only);
  EXPECT_FALSE(shadow->moderated);
  EXPECT_TRUE(shadow->maintainer_only);
  EXPECT_EQ(shadow->name, "number@published");
  EXPECT_EQ(shadow->pattern, Pattern::kE164);
  ExpectRefusal(Hsds().ValidateValue("phone", "number@published", Value(std::string("12"))),
                "phone.number@published", PatternRule(Pattern::kE164));
  // Every moderated field has exactly one shadow; unmoderated fields have none.
  for (const std::string& kind : Hsds().KindNames()) {
    for (const auto& [name, spec] : Hsds().Kind(kind)->fields) {
      const FieldSpec* s = Hsds().Field(kind, PublishedFieldName(name));
      EXPECT_EQ(s != nullptr, spec.moderated) << kind << "." << name;
      if (s) {
        EXPECT_TRUE(s->maintainer_only) << kind << "." << name;
      }
    }
  }
  EXPECT_EQ(Hsds().Field("phone", "description@published"), nullptr);
}

TEST(FieldSchema, EveryKindHasAMaintainerOnlyOwnerAndADeletedFlag) {
  std::vector<std::string> kinds = Hsds().KindNames();
  EXPECT_EQ(kinds, (std::vector<std::string>{"language", "location", "organization", "phone",
                                             "schedule", "service", "service_at_location"}));
  for (const std::string& kind : kinds) {
    const FieldSpec* owner = Hsds().Field(kind, kOwnerField);
    const FieldSpec* deleted = Hsds().Field(kind, kDeletedField);
    ASSERT_NE(owner, nullptr) << kind;
    ASSERT_NE(deleted, nullptr) << kind;
    EXPECT_TRUE(owner->maintainer_only) << kind;
    EXPECT_EQ(owner->pattern, Pattern::kUuid) << kind;
    EXPECT_EQ(deleted->type, FieldType::kBool) << kind;
  }
}

TEST(FieldSchema, AudiencesComeFromTheTable) {
  EXPECT_EQ(Hsds().Field("service", "capacity_beds_available")->audience, Audience::kPartners);
  EXPECT_EQ(Hsds().Field("service", "name")->audience, Audience::kPublic);
  EXPECT_STREQ(AudienceName(Audience::kOwner), "owner");
  EXPECT_STREQ(FieldTypeName(FieldType::kTextSet), "set of text");
}

TEST(PublishedFieldName, RoundTripsThroughBaseFieldName) {
  EXPECT_EQ(PublishedFieldName("number"), "number@published");
  EXPECT_TRUE(IsPublishedField("number@published"));
  EXPECT_FALSE(IsPublishedField("number"));
  EXPECT_FALSE(IsPublishedField("@published"));  // no base name
  EXPECT_EQ(BaseFieldName("number@published"), "number");
  EXPECT_EQ(BaseFieldName("number"), "number");
}

}  // namespace
}  // namespace sb
