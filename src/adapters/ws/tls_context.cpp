#include "adapters/ws/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace parley {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites: forward secret (ECDHE) AEAD ciphers only, the "intermediate" set of Mozilla's
// server guidelines. TLS 1.3 keeps OpenSSL's defaults (all AEAD). The client picks among them.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The oldest OpenSSL error in the queue, in words; the queue is emptied.
std::string openssl_error() {
  unsigned long code = ERR_get_error();
  std::string what = "no detail from OpenSSL";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    what = buf;
  }
  ERR_clear_error();
  return what;
}

void require_readable(const std::string& flag, const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(flag + " " + file + ": " + std::strerror(errno));
}

// The key is never asked for on a terminal: an encrypted key is refused at start-up.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

// ALPN: the only protocol served is HTTP/1.1 (WebSocket rides on it). A client offering only
// others (h2) goes on without ALPN rather than being refused.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string x509_time(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  ASN1_TIME_print(bio, t);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string describe_leaf(X509* cert) {
  char subject[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  std::string fingerprint;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned i = 0; i < len; ++i) {
    if (i) fingerprint += ':';
    fingerprint += hex[md[i] >> 4];
    fingerprint += hex[md[i] & 15];
  }
  return std::string(subject) + ", expires " + x509_time(X509_get0_notAfter(cert)) + ", sha256 " +
         fingerprint;
}

// A new server context from the two files. Throws std::runtime_error saying which file is bad.
TlsContext::ContextPtr load(const std::string& cert_file, const std::string& key_file,
                            std::string& description) {
  require_readable("--tls-cert", cert_file);
  require_readable("--tls-key", key_file);
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  ERR_clear_error();
  // TLS 1.2 and 1.3 only. Renegotiation is off: a client could make the server redo the
  // expensive half of a handshake on one connection at will.
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    throw std::runtime_error("TLS: cannot configure OpenSSL: " + openssl_error());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);

  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    throw std::runtime_error("--tls-cert " + cert_file +
                             ": not a PEM certificate chain: " + openssl_error());
  }
  BIO* bio = BIO_new_file(key_file.c_str(), "r");
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr) : nullptr;
  BIO_free(bio);
  if (!key) {
    throw std::runtime_error("--tls-key " + key_file +
                             ": not an unencrypted PEM private key: " + openssl_error());
  }
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  bool matches = X509_check_private_key(leaf, key) == 1;
  bool used = matches && SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  if (!matches) {
    ERR_clear_error();
    throw std::runtime_error("--tls-key " + key_file +
                             " is not the private key of the certificate in --tls-cert " +
                             cert_file);
  }
  if (!used) throw std::runtime_error("--tls-key " + key_file + ": " + openssl_error());
  description = describe_leaf(leaf);
  return context;
}

}  // namespace

TlsContext::TlsContext(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {
  context_ = load(cert_file_, key_file_, description_);
}

TlsContext::ContextPtr TlsContext::current() const {
  std::lock_guard lock(mutex_);
  return context_;
}

std::string TlsContext::reload() {
  std::string description;
  ContextPtr fresh;
  try {
    fresh = load(cert_file_, key_file_, description);
  } catch (const std::exception& e) {
    return e.what();
  }
  std::lock_guard lock(mutex_);
  context_ = std::move(fresh);
  description_ = std::move(description);
  return {};
}

std::string TlsContext::describe() const {
  std::lock_guard lock(mutex_);
  return description_;
}

}  // namespace parley
