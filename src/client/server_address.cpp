#include "client/server_address.h"

#include <boost/url/parse.hpp>

namespace parley::client {

Result<ServerAddress> parse_server_url(std::string_view url) {
  const auto u = boost::urls::parse_uri(url);
  if (!u) return make_error(Errc::bad_request, "not a URL: " + std::string(url));
  const bool tls = u->scheme_id() == boost::urls::scheme::https;  // any case, as RFC 3986 says
  if (!tls && u->scheme_id() != boost::urls::scheme::http) {
    return make_error(Errc::bad_request,
                      "the server URL must start with http:// or https:// (got " +
                          std::string(u->scheme()) + ")");
  }
  if (u->host().empty()) return make_error(Errc::bad_request, "no host in " + std::string(url));
  if (!u->path().empty() && u->path() != "/") {
    return make_error(Errc::bad_request,
                      "a path in the server URL is not supported: " + std::string(u->path()));
  }
  ServerAddress a;
  a.host = u->host_type() == boost::urls::host_type::ipv6 ? std::string(u->host_address())
                                                          : std::string(u->host());
  a.tls = tls;
  a.port = u->has_port() ? std::string(u->port()) : "";
  if (a.port.empty()) a.port = tls ? "443" : "80";
  return a;
}

}  // namespace parley::client
