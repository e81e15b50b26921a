#include "client/server_address.h"

#include <boost/url/parse.hpp>

namespace parley::client {

Result<ServerAddress> parse_server_url(std::string_view url) {
  const auto u = boost::urls::parse_uri(url);
  if (!u) return make_error(Errc::bad_request, "not a URL: " + std::string(url));
  if (u->scheme() != "http") {
    return make_error(Errc::bad_request, "the server URL must start with http:// (got " +
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
  a.port = u->has_port() ? std::string(u->port()) : "80";
  if (a.port.empty()) a.port = "80";
  return a;
}

}  // namespace parley::client
