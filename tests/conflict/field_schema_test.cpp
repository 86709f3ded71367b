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

TEST(Pattern, LanguageIsIso6391Or6393) {
  // ISO 639-3 is needed for many languages of origin (Tigrinya "tir", Rohingya "rhg").
  ExpectAccepts(Pattern::kLanguage, {"es", "en", "yo", "spa", "tir", "rhg"});
  ExpectRefuses(Pattern::kLanguage, {"", "ES", "Es", "SPA", "e", "e1", "espa", "es-MX"});
}

TEST(Pattern, CurrencyIsThreeLettersInAnyCase) {
  // HSDS's own example writes "gbp".
  ExpectAccepts(Pattern::kCurrency, {"USD", "gbp", "Eur"});
  ExpectRefuses(Pattern::kCurrency, {"", "US", "USDX", "U$D", "123"});
}

TEST(Pattern, PhoneIsTheFreeTextPeopleWrite) {
  // HSDS's own example, and numbers as directories publish them.
  ExpectAccepts(Pattern::kPhone,
                {"+44 1234 234567", "+14155550123", "(415) 555-0123", "1-800-373-7888", "233733",
                 "415.555.0123 ext. 12", "\"+44 1234 234567\"", "'0800 111'"});
  ExpectRefuses(Pattern::kPhone, {"", "call us", "+44 1234\n234567", "<script>", "555_1234"});
}

TEST(Pattern, ByDayIsOneICalDay) {
  ExpectAccepts(Pattern::kByDay, {"MO", "SU", "2MO", "-1FR", "+3TH", "53SA"});
  ExpectRefuses(Pattern::kByDay, {"", "mo", "MON", "0MO", "54MO", "--1FR", "1", "MO,TU", "2 MO"});
}

TEST(Pattern, TimeTakesSecondsAndAUtcOffset) {
  ExpectAccepts(Pattern::kTime,
                {"09:30", "00:00", "23:59", "10:00:00", "10:00Z", "09:00-05:00", "09:00:30+05:30"});
  ExpectRefuses(Pattern::kTime, {"", "9:30", "24:00", "10:60", "10:00:60", "10:00+15:00", "10:00 Z",
                                 "10:00:00.", "10:00-5"});
}

TEST(Pattern, NumberIsAJsonNumber) {
  ExpectAccepts(Pattern::kNumber, {"0", "51.5", "-0.1275", "1e3", "2.5E-4", "007.5"});
  ExpectRefuses(Pattern::kNumber, {"", "-", "1.", ".5", "1e", "0x10", "NaN", "inf", "1,5", " 1"});
}

TEST(CanonicalNumber, IsTheShortestTextThatReadsBackAsTheSameNumber) {
  EXPECT_EQ(CanonicalNumber("51.50"), "51.5");
  EXPECT_EQ(CanonicalNumber("1e2"), "100");
  EXPECT_EQ(CanonicalNumber("-0"), "0");
  EXPECT_EQ(CanonicalNumber("-0.1275"), "-0.1275");
  EXPECT_EQ(CanonicalNumber("007.5"), "7.5");
  EXPECT_EQ(CanonicalNumber("1e999"), std::nullopt);
  EXPECT_EQ(CanonicalNumber("abc"), std::nullopt);
}

TEST(FieldSchema, NumbersAreCheckedAsNumbersWithTheirRange) {
  EXPECT_TRUE(Hsds().ValidateValue("location", "latitude", Value(std::string("51.5"))).ok());
  EXPECT_TRUE(Hsds().ValidateValue("location", "latitude", Value(std::string("-90"))).ok());
  // No range on coordinates (HSDS's own example has latitude 100); other numbers have one.
  EXPECT_TRUE(Hsds().ValidateValue("location", "latitude", Value(std::string("100"))).ok());
  ExpectRefusal(Hsds().ValidateValue("service", "minimum_age", Value(std::string("150.5"))),
                "service.minimum_age", "must be between 0 and 150 (got 150.5)");
  ExpectRefusal(Hsds().ValidateValue("location", "latitude", Value(std::string("north"))),
                "location.latitude", "must be a number");
  ExpectRefusal(Hsds().ValidateValue("location", "latitude", Value(int64_t{5})),
                "location.latitude", "must be number, got integer");
  EXPECT_TRUE(Hsds().ValidateValue("phone", "extension", Value(std::string("1234"))).ok());
  EXPECT_TRUE(Hsds().ValidateValue("cost_option", "amount", Value(std::string("12.5"))).ok());
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
  ExpectRefusal(Hsds().ValidateValue("phone", "number", Value(std::string("call us"))),
                "phone.number", PatternRule(Pattern::kPhone));
  ExpectRefusal(Hsds().ValidateValue("organization", "website", Value(std::string("ftp://x.org"))),
                "organization.website", PatternRule(Pattern::kUrl));
  ExpectRefusal(Hsds().ValidateValue("schedule", "opens_at", Value(std::string("25:00"))),
                "schedule.opens_at", PatternRule(Pattern::kTime));
  EXPECT_TRUE(Hsds().ValidateValue("phone", "number", Value(std::string("+14155550123"))).ok());
  EXPECT_TRUE(Hsds().ValidateValue("phone", "number", Value(std::string("+44 1234 234567"))).ok());
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
  EXPECT_EQ(shadow->pattern, Pattern::kPhone);
  ExpectRefusal(Hsds().ValidateValue("phone", "number@published", Value(std::string("ab"))),
                "phone.number@published", PatternRule(Pattern::kPhone));
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
  // Every object of the HSDS 3.0 schemas but metadata (derived from the history on export) and
  // meta_table_description (a description of the tabular files, not directory data).
  EXPECT_EQ(kinds, (std::vector<std::string>{
                       "accessibility", "address", "attribute", "contact", "cost_option", "funding",
                       "language", "location", "organization", "organization_identifier", "phone",
                       "program", "required_document", "schedule", "service", "service_area",
                       "service_at_location", "taxonomy", "taxonomy_term"}));
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
