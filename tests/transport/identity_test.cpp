#include "crypto/identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/files.h"

namespace sb {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sb-identity-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

mode_t ModeOf(const std::string& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_mode & 0777;
}

bool Contains(const Status& s, const std::string& needle) {
  return s.message().find(needle) != std::string::npos;
}

Identity MustGenerate(const std::string& org) {
  Result<Identity> id = Identity::Generate(org);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return std::move(id).value();
}

TEST(Identity, GeneratedKeysHaveTheirForms) {
  Identity id = MustGenerate("org-a");
  EXPECT_EQ(id.pub.org, "org-a");
  EXPECT_EQ(id.pub.curve_public.size(), 40u);
  EXPECT_EQ(id.curve_secret.size(), 40u);
  EXPECT_EQ(id.pub.box_public.size(), 32u);
  EXPECT_EQ(id.box_secret.size(), 32u);
  EXPECT_EQ(id.pub.sign_public.size(), 32u);
  EXPECT_EQ(id.sign_secret.size(), 64u);
  EXPECT_TRUE(Z85Decode32(id.pub.curve_public).ok());
  EXPECT_NE(MustGenerate("org-a").pub, id.pub);
}

TEST(Identity, GenerateRefusesABadOrg) {
  EXPECT_EQ(Identity::Generate("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Identity::Generate("a b").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Identity::Generate("../x").status().code(), Code::kInvalidArgument);
}

TEST(Identity, SaveThenLoadGivesTheSameKeys) {
  TempDir tmp;
  std::string dir = tmp / "keys";
  Identity id = MustGenerate("org-a");
  ASSERT_TRUE(id.Save(dir).ok());
  EXPECT_EQ(ModeOf(dir + "/curve.key"), 0600u);
  EXPECT_EQ(ModeOf(dir + "/box.key"), 0600u);
  EXPECT_EQ(ModeOf(dir + "/sign.key"), 0600u);
  EXPECT_EQ(ModeOf(dir + "/identity.pub"), 0644u);
  Result<Identity> back = Identity::Load(dir);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->pub, id.pub);
  EXPECT_EQ(back->curve_secret, id.curve_secret);
  EXPECT_EQ(back->box_secret, id.box_secret);
  EXPECT_EQ(back->sign_secret, id.sign_secret);
  Result<PublicIdentity> pub = ReadPublicIdentity(dir + "/identity.pub");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(*pub, id.pub);
}

TEST(Identity, SaveNeverOverwrites) {
  TempDir tmp;
  std::string dir = tmp / "keys";
  ASSERT_TRUE(MustGenerate("org-a").Save(dir).ok());
  Result<Identity> before = Identity::Load(dir);
  Status s = MustGenerate("org-a").Save(dir);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  Result<Identity> after = Identity::Load(dir);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->pub, before->pub);
}

TEST(Identity, LoadRefusesASecretOthersMayRead) {
  TempDir tmp;
  std::string dir = tmp / "keys";
  ASSERT_TRUE(MustGenerate("org-a").Save(dir).ok());
  for (const char* name : {"curve.key", "box.key", "sign.key"}) {
    std::string file = dir + "/" + name;
    ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
    Result<Identity> r = Identity::Load(dir);
    EXPECT_EQ(r.status().code(), Code::kPermissionDenied) << name;
    EXPECT_TRUE(Contains(r.status(), "chmod 600 " + file)) << r.status().ToString();
    ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  }
  EXPECT_TRUE(Identity::Load(dir).ok());
}

TEST(Identity, LoadRefusesSecretsThatDoNotMatchIdentityPub) {
  for (const char* name : {"curve.key", "box.key", "sign.key"}) {
    TempDir tmp;
    ASSERT_TRUE(MustGenerate("org-a").Save(tmp / "a").ok());
    ASSERT_TRUE(MustGenerate("org-b").Save(tmp / "b").ok());
    Result<std::string> other = ReadSecretFile(tmp / "b/" + name);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE(WriteSecretFile(tmp / "a/" + name, *other).ok());
    Result<Identity> r = Identity::Load(tmp / "a");
    EXPECT_EQ(r.status().code(), Code::kCorruption) << name;
    EXPECT_TRUE(Contains(r.status(), std::string(name) + " is not the secret half"))
        << r.status().ToString();
  }
}

TEST(Identity, LoadRefusesASignKeyWhoseHalvesDisagree) {
  TempDir tmp;
  std::string dir = tmp / "keys";
  Identity a = MustGenerate("org-a");
  Identity b = MustGenerate("org-b");
  ASSERT_TRUE(a.Save(dir).ok());
  // b's seed followed by a's public key: the embedded public half still matches identity.pub.
  Identity mixed = a;
  mixed.sign_secret = b.sign_secret.substr(0, 32) + a.sign_secret.substr(32);
  std::string hex;
  for (unsigned char c : mixed.sign_secret) {
    static const char* digits = "0123456789abcdef";
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  ASSERT_TRUE(WriteSecretFile(dir + "/sign.key", hex + "\n").ok());
  EXPECT_EQ(Identity::Load(dir).status().code(), Code::kCorruption);
}

TEST(Identity, LoadExplainsMissingAndDamagedFiles) {
  TempDir tmp;
  std::string dir = tmp / "keys";
  EXPECT_EQ(Identity::Load(dir).status().code(), Code::kNotFound);
  ASSERT_TRUE(MustGenerate("org-a").Save(dir).ok());
  ASSERT_TRUE(WriteSecretFile(dir + "/box.key", "not hex\n").ok());
  Result<Identity> r = Identity::Load(dir);
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_TRUE(Contains(r.status(), "box.key")) << r.status().ToString();
  ASSERT_TRUE(WriteSecretFile(dir + "/curve.key", "short\n").ok());
  r = Identity::Load(dir);
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_TRUE(Contains(r.status(), "curve.key")) << r.status().ToString();
}

// ---------- identity.pub ----------

TEST(PublicIdentityJson, RoundTripsAndStartsWithTheOrg) {
  Identity id = MustGenerate("7c9e6679-7425-40de-944b-e07fc1f90ae7");
  std::string json = PublicIdentityJson(id.pub);
  EXPECT_LT(json.find("\"org\""), json.find("\"curve\""));
  EXPECT_LT(json.find("\"box\""), json.find("\"sign\""));
  Result<PublicIdentity> back = ParsePublicIdentity(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, id.pub);
}

struct BadIdentity {
  std::string json;
  std::string mentions;
};

TEST(PublicIdentityJson, ParseRefusesMalformedIdentitiesClearly) {
  Identity id = MustGenerate("org-a");
  std::string curve = id.pub.curve_public;
  std::string hex64(64, 'a');
  auto make = [&](const std::string& org, const std::string& c, const std::string& box,
                  const std::string& sign) {
    return "{\"org\":" + org + ",\"curve\":\"" + c + "\",\"box\":\"" + box + "\",\"sign\":\"" +
           sign + "\"}";
  };
  std::vector<BadIdentity> cases = {
      {"", "not valid JSON"},
      {"{\"org\":", "not valid JSON"},
      {"[1,2]", "JSON object"},
      {"\"org-a\"", "JSON object"},
      {"{\"org\":\"a\",\"curve\":\"" + curve + "\",\"box\":\"" + hex64 + "\"}", "'sign'"},
      {make("\"a\"", curve, hex64, hex64).replace(1, 5, "\"xyz\""), "'xyz'"},
      {make("17", curve, hex64, hex64), "'org' must be a string"},
      {make("\"\"", curve, hex64, hex64), "org: must not be empty"},
      {make("\"org a\"", curve, hex64, hex64), "org: 'org a'"},
      {make("\"" + std::string(129, 'o') + "\"", curve, hex64, hex64), "org: longer than 128"},
      {make("\"a\"", curve.substr(1), hex64, hex64), "curve: a CURVE key is 40 Z85"},
      {make("\"a\"", std::string(39, 'a') + "\\\"", hex64, hex64), "curve:"},
      {make("\"a\"", std::string(39, 'a') + " ", hex64, hex64), "curve:"},
      {make("\"a\"", curve, hex64.substr(2), hex64), "box: must be 64 hex digits"},
      {make("\"a\"", curve, std::string(64, 'g'), hex64), "box: must be 64 hex digits"},
      {make("\"a\"", curve, hex64, hex64 + "00"), "sign: must be 64 hex digits"},
      {make("\"a\"", curve, hex64, std::string(62, 'a') + "  "), "sign: must be 64 hex digits"},
  };
  for (const BadIdentity& c : cases) {
    Result<PublicIdentity> r = ParsePublicIdentity(c.json);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.json;
    EXPECT_TRUE(Contains(r.status(), c.mentions)) << c.json << " -> " << r.status().ToString();
    EXPECT_TRUE(Contains(r.status(), "identity.pub")) << r.status().ToString();
  }
  EXPECT_TRUE(ParsePublicIdentity(make("\"a\"", curve, hex64, hex64)).ok());
}

TEST(PublicIdentityJson, ReadNamesTheFile) {
  TempDir tmp;
  std::string file = tmp / "partner.pub";
  ASSERT_TRUE(WriteFileAtomic(file, "{}").ok());
  Result<PublicIdentity> r = ReadPublicIdentity(file);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status(), file)) << r.status().ToString();
  EXPECT_EQ(ReadPublicIdentity(tmp / "missing.pub").status().code(), Code::kNotFound);
}

// ---------- signatures and Z85 ----------

TEST(Signature, VerifiesAndCatchesTampering) {
  Identity a = MustGenerate("org-a");
  Identity b = MustGenerate("org-b");
  const std::string message("delta bytes\0with a NUL", 22);
  std::string sig = Sign(a, message);
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(VerifySignature(a.pub.sign_public, message, sig));
  EXPECT_FALSE(VerifySignature(b.pub.sign_public, message, sig));
  std::string tampered = message;
  tampered[0] ^= 1;
  EXPECT_FALSE(VerifySignature(a.pub.sign_public, tampered, sig));
  std::string bad_sig = sig;
  bad_sig[10] ^= 0x40;
  EXPECT_FALSE(VerifySignature(a.pub.sign_public, message, bad_sig));
  EXPECT_FALSE(VerifySignature(a.pub.sign_public, message, sig.substr(0, 63)));
  EXPECT_FALSE(VerifySignature(a.pub.sign_public, message, ""));
  EXPECT_FALSE(VerifySignature(a.pub.sign_public.substr(1), message, sig));
  EXPECT_TRUE(VerifySignature(a.pub.sign_public, "", Sign(a, "")));
}

TEST(Z85, RoundTripsAndRefusesBadText) {
  std::string raw(32, '\0');
  for (int i = 0; i < 32; ++i) raw[i] = static_cast<char>(i * 37);
  std::string z85 = Z85Encode32(raw);
  EXPECT_EQ(z85.size(), 40u);
  Result<std::string> back = Z85Decode32(z85);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, raw);
  EXPECT_FALSE(Z85Decode32(z85.substr(0, 39)).ok());
  EXPECT_FALSE(Z85Decode32(z85 + "a").ok());
  EXPECT_FALSE(Z85Decode32("").ok());
  std::string with_nul = z85;
  with_nul[5] = '\0';
  EXPECT_FALSE(Z85Decode32(with_nul).ok());
  // Five characters can spell values above 2^32 - 1; those are not Z85 either.
  EXPECT_FALSE(Z85Decode32(std::string(40, '#')).ok());
  for (char bad : {' ', '"', '\'', ',', ';', '\\', '_', '`', '|', '~', '\x7f', '\x80'}) {
    std::string text = z85;
    text[3] = bad;
    EXPECT_FALSE(Z85Decode32(text).ok()) << "character " << int(static_cast<unsigned char>(bad));
  }
}

}  // namespace
}  // namespace sb
