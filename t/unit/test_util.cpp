#include <catch2/catch.hpp>

#include "log/sanitize.hpp"
#include "util/duration.hpp"
#include "util/ip.hpp"

using namespace rpd;
using namespace std::chrono_literals;

TEST_CASE("durations: the config's spellings", "[util]") {
    struct Case { const char* text; std::optional<util::Millis> want; };
    const Case cases[] = {
        {"250ms", 250ms}, {"2s", 2s}, {"5m", 5min}, {"1h", 1h}, {"1d", 24h}, {"0s", 0ms},
        {"", std::nullopt}, {"2", std::nullopt}, {"s", std::nullopt}, {"-1s", std::nullopt},
        {"+1s", std::nullopt}, {"1.5s", std::nullopt}, {"1 s", std::nullopt}, {"1w", std::nullopt},
        {"2S", std::nullopt}, {"99999999999999999999d", std::nullopt}, {"106751991167301d", std::nullopt},
    };
    for (const auto& c : cases) {
        INFO("text: '" << c.text << "'");
        CHECK(util::parse_duration(c.text) == c.want);
    }
    CHECK(util::format_duration(2000ms) == "2s");
    CHECK(util::format_duration(1500ms) == "1500ms");
    CHECK(util::format_duration(24h) == "1d");
    CHECK(util::format_duration(0ms) == "0ms");
}

TEST_CASE("ip: parse, reverse names, loopback, mapped", "[util]") {
    auto v4 = util::IpAddress::parse("203.0.113.9");
    REQUIRE(v4);
    CHECK(v4->reverse_name() == "9.113.0.203.in-addr.arpa");
    CHECK(v4->to_string() == "203.0.113.9");
    auto v6 = util::IpAddress::parse("2001:db8::1");
    REQUIRE(v6);
    CHECK(v6->reverse_name() ==
          "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    CHECK_FALSE(util::IpAddress::parse("203.0.113"));
    CHECK_FALSE(util::IpAddress::parse("example.test"));
    CHECK_FALSE(util::IpAddress::parse(""));
    CHECK(util::IpAddress::parse("127.1.2.3")->is_loopback());
    CHECK(util::IpAddress::parse("::1")->is_loopback());
    CHECK(util::IpAddress::parse("::ffff:127.0.0.1")->is_loopback());
    CHECK_FALSE(util::IpAddress::parse("192.0.2.1")->is_loopback());
    CHECK(util::IpAddress::parse("::ffff:192.0.2.1")->unmapped() == *util::IpAddress::parse("192.0.2.1"));
}

TEST_CASE("cidr: parse and contains", "[util]") {
    auto net = util::Cidr::parse("192.0.2.0/24");
    REQUIRE(net);
    CHECK(net->contains(*util::IpAddress::parse("192.0.2.200")));
    CHECK(net->contains(*util::IpAddress::parse("::ffff:192.0.2.7")));
    CHECK_FALSE(net->contains(*util::IpAddress::parse("192.0.3.1")));
    CHECK_FALSE(net->contains(*util::IpAddress::parse("2001:db8::1")));
    CHECK(util::Cidr::parse("192.0.2.7/24")->to_string() == "192.0.2.0/24");
    CHECK(util::Cidr::parse("2001:db8::/32")->contains(*util::IpAddress::parse("2001:db8:ffff::1")));
    CHECK_FALSE(util::Cidr::parse("2001:db8::/33")->contains(*util::IpAddress::parse("2001:db8:ffff::1")));
    CHECK(util::Cidr::parse("198.51.100.5")->prefix_length() == 32);
    CHECK(util::Cidr::parse("0.0.0.0/0")->contains(*util::IpAddress::parse("203.0.113.1")));
    for (const char* bad : {"192.0.2.0/33", "192.0.2.0/", "192.0.2.0/x", "::/129", "300.0.0.0/8", "/8", "192.0.2.0/-1"}) {
        INFO(bad);
        CHECK_FALSE(util::Cidr::parse(bad));
    }
}

TEST_CASE("sanitize: no control bytes, capped", "[log]") {
    CHECK(log::sanitize("mx.example.test") == "mx.example.test");
    CHECK(log::sanitize("evil\r\naction=OK") == "evil??action=OK");
    CHECK(log::sanitize(std::string("a\0b", 3)) == "a?b");
    CHECK(log::sanitize("\x7f\xff") == "??");
    CHECK(log::sanitize(std::string(300, 'x')).size() == log::default_sanitize_len);
    CHECK(log::sanitize("abcdef", 5) == "ab...");
}
