#include "client/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace parley::client {
namespace asio = boost::asio;
namespace ssl = asio::ssl;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string subject_of(X509* cert) {
  if (cert == nullptr) return {};
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

// What the user can change, for the reasons a user can do something about.
const char* hint_for(long verify_result) {
  switch (verify_result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "; connect by a name the certificate lists";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "; --ca-file FILE trusts the CA that signed it";
    default:
      return "";
  }
}

}  // namespace

Result<std::shared_ptr<TlsContext>> make_tls_context(const std::string& ca_file) {
  auto ctx = std::make_shared<TlsContext>(TlsContext::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  // A machine without a system store still trusts what --ca-file names.
  ctx->set_default_verify_paths(ec);
  if (!ca_file.empty()) {
    // OpenSSL's own message for a missing file is "system lib": say which file and why first.
    if (std::ifstream probe(ca_file); !probe) {
      return make_error(Errc::bad_request, "--ca-file " + ca_file + ": " + std::strerror(errno));
    }
    ctx->load_verify_file(ca_file, ec);
    if (ec) {
      return make_error(Errc::bad_request, "--ca-file " + ca_file + ": no PEM certificate in it (" +
                                               ec.message() + ")");
    }
  }
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

asio::awaitable<std::optional<TlsFailure>> tls_handshake(TlsStream& stream,
                                                         const std::string& host) {
  SSL* ssl = stream.native_handle();
  boost::system::error_code aec;
  (void)asio::ip::make_address(host, aec);
  if (aec) {
    // A DNS name: sent as SNI (which carries names only, RFC 6066) and checked against the
    // certificate's names ("*.example.org" matches one label; "f*.example.org" nothing).
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1) {
      co_return TlsFailure{"cannot use " + host + " as a TLS host name", true};
    }
  } else if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) {
    co_return TlsFailure{"cannot use " + host + " as a TLS address", true};
  }
  // The first certificate that fails, for the message (OpenSSL keeps only the reason).
  auto failed_subject = std::make_shared<std::string>();
  stream.set_verify_callback([failed_subject](bool ok, ssl::verify_context& vc) {
    if (!ok && failed_subject->empty()) {
      *failed_subject = subject_of(X509_STORE_CTX_get_current_cert(vc.native_handle()));
    }
    return ok;
  });
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
  if (!ec) co_return std::nullopt;
  if (const long vr = SSL_get_verify_result(ssl); vr != X509_V_OK) {
    std::string msg =
        "the certificate of " + host + " is not trusted: " + X509_verify_cert_error_string(vr);
    if (!failed_subject->empty()) msg += " (certificate " + *failed_subject + ")";
    co_return TlsFailure{msg + hint_for(vr), true};
  }
  co_return TlsFailure{"TLS handshake with " + host + " failed: " + ec.message(), false};
}

}  // namespace parley::client
