// The text checks every boundary uses (issue 10): what is UTF-8, what is a control character
// for names and for prose, and that messages never repeat the offending bytes.
#include "base/utf8.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace sb {
namespace {

TEST(Utf8, AcceptsEveryWellFormedSequence) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("plain ASCII"));
  EXPECT_TRUE(IsUtf8("Café"));                  // 2 bytes
  EXPECT_TRUE(IsUtf8("ትግርኛ"));                  // Tigrinya, 3 bytes
  EXPECT_TRUE(IsUtf8("\xF0\x9F\x99\x82"));      // U+1F642, 4 bytes
  EXPECT_TRUE(IsUtf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF, the last code point
  EXPECT_TRUE(IsUtf8(std::string("a\0b", 3)));  // NUL is UTF-8; TextKind judges it
}

TEST(Utf8, RefusesEveryIllFormedSequence) {
  for (const char* bad :
       {"\x80", "\xBF", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xED\xBF\xBF",
        "\xF0\x80\x80\xAF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFE", "\xFF", "\xE2\x82",
        "\xF0\x9F\x99", "a\xC3"}) {
    EXPECT_FALSE(IsUtf8(bad)) << Printable(bad);
  }
}

TEST(Utf8, CheckTextNamesTheFieldAndTheByteButNeverRepeatsIt) {
  Status s = CheckText("ab\xFF", "organization.name", TextKind::kProse);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "organization.name: is not valid UTF-8 (byte 2)");
  s = CheckText("a\x1b[31mb", "consent.by", TextKind::kName);
  EXPECT_EQ(s.message(), "consent.by: contains a control character (byte 1)");
  s = CheckText(std::string(11, 'x'), "reason", TextKind::kProse, 10);
  EXPECT_EQ(s.message(), "reason: longer than 10 bytes (11)");
}

TEST(Utf8, NamesRefuseEveryControlCharacterAndProseKeepsTabAndNewline) {
  EXPECT_TRUE(CheckText("line one\nline two\tend", "d", TextKind::kProse).ok());
  EXPECT_FALSE(CheckText("line one\nline two", "n", TextKind::kName).ok());
  EXPECT_FALSE(CheckText("bell\a", "d", TextKind::kProse).ok());
  EXPECT_FALSE(CheckText("del\x7F", "d", TextKind::kProse).ok());
  EXPECT_FALSE(CheckText(std::string("nul\0", 4), "d", TextKind::kProse).ok());
  EXPECT_TRUE(CheckText(std::string("nul\0", 4), "v", TextKind::kAny).ok());
  EXPECT_FALSE(CheckText("\xFF", "v", TextKind::kAny).ok());
}

TEST(Utf8, PrintableEscapesWhatIsNotTextAndCutsOnACharacter) {
  EXPECT_EQ(Printable("a\xFF\n b"), "a\\xff\\x0a b");
  std::string cut = Printable("ééééé", 4);
  EXPECT_TRUE(IsUtf8(cut));
  EXPECT_EQ(cut, "éé\xE2\x80\xA6");
}

RC_GTEST_PROP(Utf8, PrintableIsAlwaysUtf8WithoutControls, (const std::string& bytes)) {
  std::string p = Printable(bytes, 64);
  RC_ASSERT(IsUtf8(p));
  for (unsigned char c : p) RC_ASSERT(c >= 0x20 && c != 0x7F);
}

RC_GTEST_PROP(Utf8, CheckTextAgreesWithIsUtf8ForAnyBytes, (const std::string& bytes)) {
  RC_ASSERT(CheckText(bytes, "f", TextKind::kAny).ok() == IsUtf8(bytes));
}

}  // namespace
}  // namespace sb
