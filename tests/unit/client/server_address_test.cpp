#include "client/server_address.h"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

TEST(ServerAddress, HttpDefaultsToPort80) {
  const auto a = parse_server_url("http://chat.example.org");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->host, "chat.example.org");
  EXPECT_EQ(a->port, "80");
  EXPECT_FALSE(a->tls);
}

TEST(ServerAddress, HttpsDefaultsToPort443AndTls) {
  for (const char* url : {"https://chat.example.org", "https://chat.example.org/",
                          "https://chat.example.org:", "HTTPS://chat.example.org"}) {
    const auto a = parse_server_url(url);
    ASSERT_TRUE(a) << url << ": " << a.error().message;
    EXPECT_EQ(a->host, "chat.example.org") << url;
    EXPECT_EQ(a->port, "443") << url;
    EXPECT_TRUE(a->tls) << url;
  }
}

TEST(ServerAddress, AnExplicitPortIsKept) {
  const auto h = parse_server_url("http://127.0.0.1:8080");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->authority(), "127.0.0.1:8080");
  EXPECT_FALSE(h->tls);
  const auto s = parse_server_url("https://localhost:8443");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->authority(), "localhost:8443");
  EXPECT_TRUE(s->tls);
}

TEST(ServerAddress, Ipv6HostHasNoBrackets) {
  const auto a = parse_server_url("https://[::1]:9443");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, "9443");
}

TEST(ServerAddress, OtherSchemesPathsAndNonUrlsAreRefused) {
  for (const char* url : {"ws://localhost:80", "wss://localhost", "ftp://localhost",
                          "localhost:8080", "https://", "https://host/prefix", "not a url"}) {
    const auto a = parse_server_url(url);
    EXPECT_FALSE(a) << url;
    if (!a) {
      EXPECT_EQ(a.error().code, Errc::bad_request) << url;
    }
  }
}

}  // namespace
}  // namespace parley::client
