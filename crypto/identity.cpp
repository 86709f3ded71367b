#include "crypto/identity.h"

#include <sodium.h>
#include <zmq.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/files.h"
#include "base/json.h"
#include "base/utf8.h"

namespace sb {

namespace {

namespace fs = std::filesystem;

constexpr size_t kKeyBytes = 32;
constexpr size_t kZ85KeyChars = 40;
constexpr size_t kMaxOrgChars = 128;
constexpr size_t kMaxIdentityFileBytes = 64 << 10;

constexpr char kCurveFile[] = "curve.key";
constexpr char kBoxFile[] = "box.key";
constexpr char kSignFile[] = "sign.key";
constexpr char kPublicFile[] = "identity.pub";

Status InitSodium() {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  return Status::Ok();
}

std::string Hex(std::string_view raw) {
  std::string out(raw.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  out.pop_back();
  return out;
}

// Strict hex of exactly `bytes` bytes (no separators), or nullopt.
std::optional<std::string> Unhex(std::string_view hex, size_t bytes) {
  if (hex.size() != bytes * 2) return std::nullopt;
  std::string out(bytes, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(),
                     hex.size(), nullptr, &len, &end) != 0 ||
      len != bytes || end != hex.data() + hex.size()) {
    return std::nullopt;
  }
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

const unsigned char* U(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Status CheckOrg(const std::string& org) {
  if (org.empty()) return Status::InvalidArgument("org: must not be empty");
  if (org.size() > kMaxOrgChars) {
    return Status::InvalidArgument("org: longer than " + std::to_string(kMaxOrgChars) +
                                   " characters");
  }
  for (char c : org) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument("org: '" + Printable(org, 64) +
                                     "' may only hold letters, digits, '.', '_' and '-'");
    }
  }
  if (org == "." || org == "..") return Status::InvalidArgument("org: '" + org + "' is reserved");
  return Status::Ok();
}

}  // namespace

Result<std::string> Z85Decode32(std::string_view z85) {
  if (z85.size() != kZ85KeyChars) {
    return Status::InvalidArgument("a CURVE key is 40 Z85 characters, not " +
                                   std::to_string(z85.size()));
  }
  std::string text(z85);  // NUL-terminated for libzmq
  if (text.find('\0') != std::string::npos) {
    return Status::InvalidArgument("a CURVE key holds a NUL character");
  }
  std::string raw(kKeyBytes, '\0');
  if (zmq_z85_decode(reinterpret_cast<uint8_t*>(raw.data()), text.c_str()) == nullptr) {
    return Status::InvalidArgument("not a Z85-encoded CURVE key");
  }
  return raw;
}

std::string Z85Encode32(std::string_view raw) {
  if (raw.size() != kKeyBytes) {
    std::fprintf(stderr, "Z85Encode32: %zu bytes, not 32 (a bug)\n", raw.size());
    std::abort();
  }
  char out[kZ85KeyChars + 1];
  zmq_z85_encode(out, reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
  return std::string(out, kZ85KeyChars);
}

Result<Identity> Identity::Generate(const std::string& org) {
  RETURN_IF_ERROR(CheckOrg(org));
  RETURN_IF_ERROR(InitSodium());
  Identity id;
  id.pub.org = org;
  char curve_public[kZ85KeyChars + 1], curve_secret[kZ85KeyChars + 1];
  if (zmq_curve_keypair(curve_public, curve_secret) != 0) {
    return Status::Internal(std::string("libzmq cannot make CURVE keys: ") +
                            zmq_strerror(zmq_errno()));
  }
  id.pub.curve_public.assign(curve_public, kZ85KeyChars);
  id.curve_secret.assign(curve_secret, kZ85KeyChars);
  sodium_memzero(curve_secret, sizeof curve_secret);

  id.pub.box_public.resize(crypto_box_PUBLICKEYBYTES);
  id.box_secret.resize(crypto_box_SECRETKEYBYTES);
  crypto_box_keypair(reinterpret_cast<unsigned char*>(id.pub.box_public.data()),
                     reinterpret_cast<unsigned char*>(id.box_secret.data()));
  id.pub.sign_public.resize(crypto_sign_PUBLICKEYBYTES);
  id.sign_secret.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(id.pub.sign_public.data()),
                      reinterpret_cast<unsigned char*>(id.sign_secret.data()));
  return id;
}

Status Identity::Save(const std::string& dir) const {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, ec);
  }
  for (const char* name : {kCurveFile, kBoxFile, kSignFile, kPublicFile}) {
    std::string file = dir + "/" + name;
    if (fs::exists(file, ec)) {
      return Status::AlreadyExists(file +
                                   " exists; keys are never overwritten (move it away "
                                   "first if you mean to replace this identity)");
    }
  }
  // Secrets first: a directory with identity.pub is one whose keys are all there.
  RETURN_IF_ERROR(WriteSecretFile(dir + "/" + kCurveFile, curve_secret + "\n"));
  RETURN_IF_ERROR(WriteSecretFile(dir + "/" + kBoxFile, Hex(box_secret) + "\n"));
  RETURN_IF_ERROR(WriteSecretFile(dir + "/" + kSignFile, Hex(sign_secret) + "\n"));
  return WriteFileAtomic(dir + "/" + kPublicFile, PublicIdentityJson(pub));
}

Result<Identity> Identity::Load(const std::string& dir) {
  RETURN_IF_ERROR(InitSodium());
  Identity id;
  ASSIGN_OR_RETURN(id.pub, ReadPublicIdentity(dir + "/" + kPublicFile));

  std::string curve_file = dir + "/" + kCurveFile;
  ASSIGN_OR_RETURN(std::string curve_text, ReadSecretFile(curve_file));
  id.curve_secret = Trim(std::move(curve_text));
  Result<std::string> curve_raw = Z85Decode32(id.curve_secret);
  if (!curve_raw.ok()) return Status::Corruption(curve_file + ": " + curve_raw.status().message());
  char derived[kZ85KeyChars + 1];
  if (zmq_curve_public(derived, id.curve_secret.c_str()) != 0 ||
      std::string(derived, kZ85KeyChars) != id.pub.curve_public) {
    return Status::Corruption(curve_file + " is not the secret half of the curve key in " + dir +
                              "/" + kPublicFile);
  }

  std::string box_file = dir + "/" + kBoxFile;
  ASSIGN_OR_RETURN(std::string box_text, ReadSecretFile(box_file));
  std::optional<std::string> box = Unhex(Trim(std::move(box_text)), crypto_box_SECRETKEYBYTES);
  if (!box) return Status::Corruption(box_file + ": not 64 hex digits");
  id.box_secret = std::move(*box);
  std::string box_public(crypto_box_PUBLICKEYBYTES, '\0');
  crypto_scalarmult_base(reinterpret_cast<unsigned char*>(box_public.data()), U(id.box_secret));
  if (box_public != id.pub.box_public) {
    return Status::Corruption(box_file + " is not the secret half of the box key in " + dir + "/" +
                              kPublicFile);
  }

  std::string sign_file = dir + "/" + kSignFile;
  ASSIGN_OR_RETURN(std::string sign_text, ReadSecretFile(sign_file));
  std::optional<std::string> sign = Unhex(Trim(std::move(sign_text)), crypto_sign_SECRETKEYBYTES);
  if (!sign) return Status::Corruption(sign_file + ": not 128 hex digits");
  id.sign_secret = std::move(*sign);
  // libsodium's secret key is seed || public key: derive the public key from the seed, so a
  // secret whose two halves disagree is caught too.
  unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES],
      sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_ed25519_sk_to_seed(seed, U(id.sign_secret));
  crypto_sign_seed_keypair(pk, sk, seed);
  sodium_memzero(seed, sizeof seed);
  bool match = sodium_memcmp(sk, U(id.sign_secret), sizeof sk) == 0 &&
               std::string(reinterpret_cast<char*>(pk), sizeof pk) == id.pub.sign_public;
  sodium_memzero(sk, sizeof sk);
  if (!match) {
    return Status::Corruption(sign_file + " is not the secret half of the sign key in " + dir +
                              "/" + kPublicFile);
  }
  return id;
}

std::string PublicIdentityJson(const PublicIdentity& p) {
  nlohmann::ordered_json j;
  j["org"] = p.org;
  j["curve"] = p.curve_public;
  j["box"] = Hex(p.box_public);
  j["sign"] = Hex(p.sign_public);
  return DumpJson(j, 2) + "\n";
}

namespace {

// `name` ("identity.pub", or the file's path) prefixes every error.
Result<PublicIdentity> ParseNamed(std::string_view json_text, const std::string& name) {
  auto bad = [&](const std::string& why) { return Status::InvalidArgument(name + ": " + why); };
  if (json_text.size() > kMaxIdentityFileBytes) return bad("too large to be an identity");
  Result<nlohmann::json> parsed =
      ParseJson(json_text, "the file", JsonLimits{kMaxIdentityFileBytes, 4});
  if (!parsed.ok()) return bad(parsed.status().message());
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return bad("must be a JSON object {\"org\", \"curve\", \"box\", \"sign\"}");
  for (const auto& [key, value] : j.items()) {
    if (key != "org" && key != "curve" && key != "box" && key != "sign") {
      return bad("unknown field '" + Printable(key, 40) + "'");
    }
    if (!value.is_string()) return bad("field '" + Printable(key, 40) + "' must be a string");
  }
  for (const char* key : {"org", "curve", "box", "sign"}) {
    if (!j.contains(key)) return bad(std::string("missing field '") + key + "'");
  }
  PublicIdentity p;
  p.org = j["org"].get<std::string>();
  Status org = CheckOrg(p.org);
  if (!org.ok()) return bad(org.message());
  p.curve_public = j["curve"].get<std::string>();
  Result<std::string> curve = Z85Decode32(p.curve_public);
  if (!curve.ok()) return bad("curve: " + curve.status().message());
  std::optional<std::string> box = Unhex(j["box"].get<std::string>(), crypto_box_PUBLICKEYBYTES);
  if (!box) return bad("box: must be 64 hex digits (a 32-byte X25519 public key)");
  p.box_public = std::move(*box);
  std::optional<std::string> sign = Unhex(j["sign"].get<std::string>(), crypto_sign_PUBLICKEYBYTES);
  if (!sign) return bad("sign: must be 64 hex digits (a 32-byte Ed25519 public key)");
  p.sign_public = std::move(*sign);
  return p;
}

}  // namespace

Result<PublicIdentity> ParsePublicIdentity(std::string_view json_text) {
  return ParseNamed(json_text, "identity.pub");
}

std::string Fingerprint(const PublicIdentity& p) {
  // Length-prefixed fields, so no two identities hash the same input.
  std::string input = "switchboard fingerprint v1";
  for (const std::string* f : {&p.org, &p.curve_public, &p.sign_public, &p.box_public}) {
    for (int shift = 0; shift < 32; shift += 8) input += static_cast<char>(f->size() >> shift);
    input += *f;
  }
  unsigned char hash[30];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size(), nullptr, 0);
  std::string out;
  for (int group = 0; group < 6; ++group) {
    uint64_t v = 0;
    for (int i = 0; i < 5; ++i) v = (v << 8) | hash[group * 5 + i];
    char buf[8];
    std::snprintf(buf, sizeof buf, "%05llu", static_cast<unsigned long long>(v % 100000));
    if (group) out += ' ';
    out += buf;
  }
  return out;
}

Result<PublicIdentity> ReadPublicIdentity(const std::string& file) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) return Status::NotFound("cannot read " + file + ": " + ec.message());
  if (size > kMaxIdentityFileBytes) {
    return Status::InvalidArgument(file + " is too large to be an identity.pub");
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  return ParseNamed(text, file);
}

std::string Sign(const Identity& id, std::string_view message) {
  if (id.sign_secret.size() != crypto_sign_SECRETKEYBYTES || sodium_init() < 0) {
    std::fprintf(stderr, "Sign: no Ed25519 secret key (a bug)\n");
    std::abort();
  }
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       U(id.sign_secret));
  return sig;
}

bool VerifySignature(std::string_view sign_public, std::string_view message,
                     std::string_view signature) {
  if (sign_public.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  if (sodium_init() < 0) return false;
  return crypto_sign_verify_detached(
             reinterpret_cast<const unsigned char*>(signature.data()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(),
             reinterpret_cast<const unsigned char*>(sign_public.data())) == 0;
}

}  // namespace sb
