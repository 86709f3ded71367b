#include "transport/sealed.h"
#include "base/ids.h"

#include <sodium.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/json.h"

namespace sb {

namespace {

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

std::string Random(size_t n) {
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

std::string AssociatedData(const proto::ReferralBody& b) {
  return b.id + '\0' + b.sender + '\0' + b.recipient;
}

}  // namespace

std::string NewDataKey() {
  if (sodium_init() < 0) return {};
  return Random(kDataKeyBytes);
}

// body->nonce/ciphertext: the payload under the data key.
static void EncryptPayload(proto::ReferralBody* body, std::string_view plaintext,
                           std::string_view data_key) {
  std::string ad = AssociatedData(*body);
  body->nonce = Random(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  body->ciphertext.assign(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(U(body->ciphertext), &clen, U(plaintext),
                                             plaintext.size(), U(ad), ad.size(), nullptr,
                                             U(body->nonce), U(data_key));
  body->ciphertext.resize(clen);
}

PreKeyPair NewPreKey(uint64_t id) {
  PreKeyPair k;
  if (sodium_init() < 0) return k;
  k.id = id;
  k.public_key.assign(crypto_box_PUBLICKEYBYTES, '\0');
  k.secret_key.assign(crypto_box_SECRETKEYBYTES, '\0');
  crypto_box_keypair(U(k.public_key), U(k.secret_key));
  return k;
}

namespace {
std::string PreKeySigningBytes(const std::string& org, uint64_t id, std::string_view key) {
  std::string m = "sb-prekey-v1";
  m.push_back('\0');
  m += org;
  m.push_back('\0');
  for (int shift = 56; shift >= 0; shift -= 8) m.push_back(static_cast<char>((id >> shift) & 0xff));
  m.append(key);
  return m;
}
}  // namespace

proto::SignedPreKey SignPreKey(const Identity& owner, const PreKeyPair& k) {
  return proto::SignedPreKey{k.id, k.public_key,
                             Sign(owner, PreKeySigningBytes(owner.pub.org, k.id, k.public_key))};
}

bool VerifyPreKey(const std::string& org, std::string_view sign_public,
                  const proto::SignedPreKey& k) {
  return k.id != 0 && k.key.size() == crypto_box_PUBLICKEYBYTES &&
         VerifySignature(sign_public, PreKeySigningBytes(org, k.id, k.key), k.signature);
}

Status SealPayloadToPreKey(proto::ReferralBody* body, std::string_view plaintext,
                           std::string_view data_key, const proto::SignedPreKey& pre_key) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  if (data_key.size() != kDataKeyBytes) return Status::InvalidArgument("a data key is 32 bytes");
  if (pre_key.id == 0 || pre_key.key.size() != crypto_box_PUBLICKEYBYTES) {
    return Status::InvalidArgument("the recipient's pre-key is malformed");
  }
  EncryptPayload(body, plaintext, data_key);
  body->pre_key_id = pre_key.id;
  body->key_nonce.clear();
  body->sealed_key.assign(data_key.size() + crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal(U(body->sealed_key), U(data_key), data_key.size(), U(pre_key.key)) != 0) {
    return Status::InvalidArgument("cannot seal the data key to the recipient's pre-key");
  }
  return Status::Ok();
}

Result<std::string> OpenDataKeyWithPreKey(const proto::ReferralBody& body, const PreKeyPair& k) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  if (body.pre_key_id == 0 || body.pre_key_id != k.id ||
      body.sealed_key.size() != kDataKeyBytes + crypto_box_SEALBYTES ||
      k.public_key.size() != crypto_box_PUBLICKEYBYTES ||
      k.secret_key.size() != crypto_box_SECRETKEYBYTES) {
    return Status::Corruption("the referral's sealed key is malformed");
  }
  std::string key(kDataKeyBytes, '\0');
  if (crypto_box_seal_open(U(key), U(body.sealed_key), body.sealed_key.size(), U(k.public_key),
                           U(k.secret_key)) != 0) {
    sodium_memzero(key.data(), key.size());
    return Status::PermissionDenied("the referral's key does not open with pre-key " +
                                    std::to_string(k.id) + ": it was altered");
  }
  return key;
}

Status SealPayload(proto::ReferralBody* body, std::string_view plaintext, std::string_view data_key,
                   const Identity& sender, std::string_view recipient_box_public) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  if (data_key.size() != kDataKeyBytes) return Status::InvalidArgument("a data key is 32 bytes");
  if (recipient_box_public.size() != crypto_box_PUBLICKEYBYTES ||
      sender.box_secret.size() != crypto_box_SECRETKEYBYTES) {
    return Status::InvalidArgument("an encryption key has the wrong length");
  }
  EncryptPayload(body, plaintext, data_key);
  body->pre_key_id = 0;
  body->key_nonce = Random(crypto_box_NONCEBYTES);
  body->sealed_key.assign(data_key.size() + crypto_box_MACBYTES, '\0');
  if (crypto_box_easy(U(body->sealed_key), U(data_key), data_key.size(), U(body->key_nonce),
                      U(recipient_box_public), U(sender.box_secret)) != 0) {
    return Status::InvalidArgument("cannot seal the data key to the recipient's key");
  }
  return Status::Ok();
}

Result<std::string> OpenDataKey(const proto::ReferralBody& body, std::string_view sender_box_public,
                                const Identity& recipient) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  if (body.key_nonce.size() != crypto_box_NONCEBYTES ||
      body.sealed_key.size() != kDataKeyBytes + crypto_box_MACBYTES ||
      sender_box_public.size() != crypto_box_PUBLICKEYBYTES ||
      recipient.box_secret.size() != crypto_box_SECRETKEYBYTES) {
    return Status::Corruption("the referral's sealed key is malformed");
  }
  std::string key(kDataKeyBytes, '\0');
  if (crypto_box_open_easy(U(key), U(body.sealed_key), body.sealed_key.size(), U(body.key_nonce),
                           U(sender_box_public), U(recipient.box_secret)) != 0) {
    sodium_memzero(key.data(), key.size());
    return Status::PermissionDenied("the referral's key does not open: it was not sealed by " +
                                    body.sender + " for this organization, or it was altered");
  }
  return key;
}

Result<std::string> OpenPayload(const proto::ReferralBody& body, std::string_view data_key) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  if (data_key.size() != kDataKeyBytes ||
      body.nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
      body.ciphertext.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return Status::Corruption("the referral's payload is malformed");
  }
  std::string ad = AssociatedData(body);
  std::string out(body.ciphertext.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(U(out), &len, nullptr, U(body.ciphertext),
                                                 body.ciphertext.size(), U(ad), ad.size(),
                                                 U(body.nonce), U(data_key)) != 0) {
    return Status::Corruption("the referral's payload does not decrypt: it was altered");
  }
  out.resize(len);
  return out;
}

Status SealConsent(proto::ReferralBody* body, std::string_view data_key) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  if (data_key.size() != kDataKeyBytes) return Status::InvalidArgument("a data key is 32 bytes");
  std::string plain =
      DumpJson(nlohmann::json{{"scope", body->consent_scope}, {"by", body->consent_by}});
  std::string ad = AssociatedData(*body) + '\0' + "consent";
  body->consent_nonce = Random(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  body->consent_sealed.assign(plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(U(body->consent_sealed), &clen, U(plain), plain.size(),
                                             U(ad), ad.size(), nullptr, U(body->consent_nonce),
                                             U(data_key));
  body->consent_sealed.resize(clen);
  sodium_memzero(plain.data(), plain.size());
  body->consent_scope.clear();
  body->consent_by.clear();
  return Status::Ok();
}

Status OpenConsent(proto::ReferralBody* body, std::string_view data_key) {
  if (body->consent_sealed.empty() && body->consent_nonce.empty()) return Status::Ok();
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  if (data_key.size() != kDataKeyBytes ||
      body->consent_nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
      body->consent_sealed.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return Status::Corruption("the referral's sealed consent is malformed");
  }
  std::string ad = AssociatedData(*body) + '\0' + "consent";
  std::string out(body->consent_sealed.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(U(out), &len, nullptr, U(body->consent_sealed),
                                                 body->consent_sealed.size(), U(ad), ad.size(),
                                                 U(body->consent_nonce), U(data_key)) != 0) {
    return Status::Corruption("the referral's consent does not decrypt: it was altered");
  }
  out.resize(len);
  nlohmann::json j = ParseStoredJson(out, JsonLimits{16 << 10, 2});
  if (!j.is_object() || j.size() != 2 || !j.contains("scope") || !j["scope"].is_string() ||
      !j.contains("by") || !j["by"].is_string()) {
    return Status::Corruption("the referral's sealed consent is not {\"scope\", \"by\"}");
  }
  body->consent_scope = j["scope"].get<std::string>();
  body->consent_by = j["by"].get<std::string>();
  body->consent_nonce.clear();
  body->consent_sealed.clear();
  return Status::Ok();
}

proto::Signed SignBody(const Identity& id, const proto::Message& body) {
  std::string bytes = proto::EncodeEnvelope(body);
  std::string sig = Sign(id, bytes);
  return proto::Signed{std::move(bytes), std::move(sig)};
}

}  // namespace sb
