#pragma once
// The two byte streams a connection runs on. Plain TCP is the socket itself; TLS is OpenSSL
// through Asio, wrapped by Beast's ssl_stream (whose flat_stream turns a gather write into one
// TLS record instead of one record per buffer) over a tcp_stream (for the handshake's and the
// HTTP requests' timeouts). Sessions are templates on the stream: the plain path pays nothing
// for TLS existing.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <type_traits>

namespace parley {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream>
inline constexpr bool is_tls_v = std::is_same_v<Stream, TlsStream>;

/// The TCP socket under @p stream, for what TLS does not wrap: shutdown, close.
template <class Executor>
boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>& tcp_socket(
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>& s) {
  return s;
}
inline boost::asio::ip::tcp::socket& tcp_socket(boost::beast::tcp_stream& s) {
  return s.socket();
}
inline boost::asio::ip::tcp::socket& tcp_socket(TlsStream& s) {
  return boost::beast::get_lowest_layer(s).socket();
}

}  // namespace parley
