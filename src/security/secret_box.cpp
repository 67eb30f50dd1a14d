#include "security/secret_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "security/encoding.h"

namespace trellis::security {
namespace {

constexpr const char* kHowToGenerate = "generate one with `openssl rand -base64 32`";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Decodes one configured key; the message never contains the key's text.
Result<std::string> DecodeKey(std::string_view text, const std::string& what) {
  text = Trim(text);
  if (text.empty()) return FailedPrecondition(what + " is not set; " + kHowToGenerate);
  auto raw = Base64Decode(text);
  if (!raw) {
    return InvalidArgument(what + " is not valid base64 (it must be base64 of exactly 32 bytes); " +
                           kHowToGenerate);
  }
  if (raw->size() != kEncryptionKeyBytes) {
    std::string n = std::to_string(raw->size());
    OPENSSL_cleanse(raw->data(), raw->size());
    return InvalidArgument(what + " decodes to " + n + " bytes; AES-256 needs exactly 32; " + kHowToGenerate);
  }
  return std::move(*raw);
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string KeyRing::KeyIdOf(std::string_view raw_key) {
  return Sha256Hex(raw_key).substr(0, 16);
}

Result<KeyRing> KeyRing::FromRawKeys(std::string_view current, const std::vector<std::string>& previous) {
  KeyRing ring;
  ring.keys_.reserve(1 + previous.size());
  auto add = [&](std::string_view raw) -> Status {
    if (raw.size() != kEncryptionKeyBytes) {
      return InvalidArgument("an encryption key must be exactly 32 bytes, not " + std::to_string(raw.size()));
    }
    Key k;
    k.id = KeyIdOf(raw);
    if (ring.Find(k.id) != nullptr) return Status::Ok();  // the same key listed twice
    std::copy(raw.begin(), raw.end(), k.bytes.begin());
    ring.keys_.push_back(std::move(k));
    return Status::Ok();
  };
  if (Status s = add(current); !s.ok()) return s;
  for (const auto& p : previous) {
    if (Status s = add(p); !s.ok()) return s;
  }
  return ring;
}

Result<KeyRing> KeyRing::FromBase64(std::string_view current, const std::vector<std::string>& previous,
                                    std::string_view current_name, std::string_view previous_name) {
  auto cur = DecodeKey(current, std::string(current_name));
  if (!cur.ok()) return cur.status();
  std::vector<std::string> raws;
  raws.reserve(previous.size());
  Status failed;
  for (size_t i = 0; i < previous.size() && failed.ok(); ++i) {
    auto raw = DecodeKey(previous[i], std::string(previous_name) + "[" + std::to_string(i) + "]");
    if (raw.ok()) {
      raws.push_back(std::move(raw).value());
    } else {
      failed = raw.status();
    }
  }
  Result<KeyRing> ring = failed.ok() ? FromRawKeys(*cur, raws) : Result<KeyRing>(failed);
  OPENSSL_cleanse(cur->data(), cur->size());
  for (auto& r : raws) OPENSSL_cleanse(r.data(), r.size());
  return ring;
}

KeyRing::~KeyRing() {
  Wipe();
}

void KeyRing::Wipe() {
  for (auto& k : keys_) OPENSSL_cleanse(k.bytes.data(), k.bytes.size());
}

std::vector<std::string> KeyRing::key_ids() const {
  std::vector<std::string> out;
  out.reserve(keys_.size());
  for (const auto& k : keys_) out.push_back(k.id);
  return out;
}

bool KeyRing::HasKey(std::string_view key_id) const {
  return Find(key_id) != nullptr;
}

const KeyRing::Key* KeyRing::Find(std::string_view key_id) const {
  for (const auto& k : keys_) {
    if (k.id == key_id) return &k;
  }
  return nullptr;
}

Result<SealedValue> KeyRing::Seal(std::string_view plaintext, std::string_view associated_data) const {
  const Key& key = keys_.front();
  SealedValue out;
  out.key_id = key.id;
  out.nonce = RandomBytes(kNonceBytes);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes.data(), Bytes(out.nonce)) != 1 ||
      (!associated_data.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                                                     static_cast<int>(associated_data.size())) != 1)) {
    return Internal("AES-256-GCM: cannot initialise encryption");
  }
  out.ciphertext.resize(plaintext.size() + kTagBytes);
  auto* dst = reinterpret_cast<unsigned char*>(out.ciphertext.data());
  int total = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), dst, &len, Bytes(plaintext), static_cast<int>(plaintext.size())) != 1) {
      return Internal("AES-256-GCM: encryption failed");
    }
    total = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), dst + total, &len) != 1)
    return Internal("AES-256-GCM: encryption failed");
  total += len;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), dst + total) != 1) {
    return Internal("AES-256-GCM: cannot read the tag");
  }
  out.ciphertext.resize(static_cast<size_t>(total) + kTagBytes);
  return out;
}

Result<std::string> KeyRing::Open(const SealedValue& sealed, std::string_view associated_data) const {
  const Key* key = Find(sealed.key_id);
  if (key == nullptr) {
    std::string known;
    for (const auto& k : keys_) known += (known.empty() ? "" : ", ") + k.id;
    return FailedPrecondition("sealed under encryption key id '" + sealed.key_id +
                              "', which is not configured (configured: " + known +
                              "); add that key to security.previous_encryption_keys");
  }
  if (sealed.nonce.size() != kNonceBytes || sealed.ciphertext.size() < kTagBytes) {
    return InvalidArgument("sealed value is malformed (nonce or tag has the wrong length)");
  }
  const size_t body = sealed.ciphertext.size() - kTagBytes;
  std::string tag = sealed.ciphertext.substr(body);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key->bytes.data(), Bytes(sealed.nonce)) != 1 ||
      (!associated_data.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                                                     static_cast<int>(associated_data.size())) != 1)) {
    return Internal("AES-256-GCM: cannot initialise decryption");
  }
  std::string plain(body, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(plain.data());
  int total = 0;
  if (body > 0) {
    if (EVP_DecryptUpdate(ctx.get(), dst, &len, Bytes(sealed.ciphertext), static_cast<int>(body)) != 1) {
      return Internal("AES-256-GCM: decryption failed");
    }
    total = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag.data()) != 1) {
    return Internal("AES-256-GCM: cannot set the tag");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), dst + total, &len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return InvalidArgument("sealed value failed authentication under key id '" + sealed.key_id +
                           "' (it was altered, belongs to another name, or another key has this id)");
  }
  plain.resize(static_cast<size_t>(total + len));
  return plain;
}

}  // namespace trellis::security
