// An organization's (or the broker's) keys, as kept in a data directory:
//   DIR/curve.key    CURVE (transport) secret key, Z85, mode 0600
//   DIR/box.key      X25519 secret key for referral payloads (crypto_box), hex, mode 0600
//   DIR/sign.key     Ed25519 secret key for signing deltas, hex, mode 0600
//   DIR/identity.pub the public half, JSON — the one file a partner sends to the maintainers:
//     {"org": ORG_ID, "curve": Z85(40), "box": hex(64), "sign": hex(64)}
// Secret files with looser modes are refused.
#pragma once

#include <string>

#include "base/status.h"

namespace sb {

struct PublicIdentity {
  std::string org;
  std::string curve_public;  // Z85, 40 chars
  std::string box_public;    // raw 32 bytes
  std::string sign_public;   // raw 32 bytes
  friend bool operator==(const PublicIdentity&, const PublicIdentity&) = default;
};

struct Identity {
  PublicIdentity pub;
  std::string curve_secret;  // Z85, 40 chars
  std::string box_secret;    // raw 32 bytes
  std::string sign_secret;   // raw 64 bytes (libsodium's Ed25519 secret key)

  // Fresh keys for `org` (libsodium and libzmq's CURVE key generator).
  static Result<Identity> Generate(const std::string& org);
  // Writes the three secret files (0600) and identity.pub into `dir`; refuses to overwrite.
  Status Save(const std::string& dir) const;
  // Reads the files written by Save; checks modes and that the halves match.
  static Result<Identity> Load(const std::string& dir);
};

// identity.pub as JSON text, and back (validating every key's form).
std::string PublicIdentityJson(const PublicIdentity& p);
Result<PublicIdentity> ParsePublicIdentity(std::string_view json_text);
Result<PublicIdentity> ReadPublicIdentity(const std::string& file);

// A short fingerprint of an organization's public identity (its id and all three keys), for
// two people to compare over the phone before enrolling or rekeying: 30 digits in six groups,
// "04718 22931 55087 90312 00475 63390" (in the manner of Signal's safety numbers: each group
// is 5 bytes of a BLAKE2b-240 hash modulo 100000, about 100 bits in all). Any change of a key
// or the id changes it.
std::string Fingerprint(const PublicIdentity& p);

// Ed25519 over `message`; 64-byte signature.
std::string Sign(const Identity& id, std::string_view message);
bool VerifySignature(std::string_view sign_public, std::string_view message,
                     std::string_view signature);

// Z85 <-> raw 32-byte CURVE keys.
Result<std::string> Z85Decode32(std::string_view z85);
std::string Z85Encode32(std::string_view raw);

}  // namespace sb
