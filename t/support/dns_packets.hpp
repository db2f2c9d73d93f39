// t/support/dns_packets.hpp -- DNS replies for tests, written as zone-file text.
//
// In: a question and records as presentation text ("host.example.test. 300 IN A
// 192.0.2.10"). Out: an ldns packet or its wire bytes. Used by the unit tests (feed
// dns::interpret) and by the fault responder (what it sends). Bad test input throws
// std::invalid_argument: it is a bug in the test, not DNS input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dns/wire.hpp"

namespace rpd::test {

using RrPtr = util::CPtr<ldns_rr, ldns_rr_free>;

RrPtr parse_rr(const std::string& text);

struct ReplySpec {
    std::string qname{};                     // as asked; "" = root
    std::uint16_t qtype = LDNS_RR_TYPE_A;
    std::uint16_t id = 0;
    ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
    std::vector<std::string> answer{};
    std::vector<std::string> authority{};
    std::vector<std::string> additional{};
    bool qr = true;
    bool tc = false;
    bool aa = false;
    bool rd = true;
    bool ra = true;
    std::uint16_t edns_udp_size = 0;         // 0: no OPT record
};

dns::PacketPtr make_packet(const ReplySpec& spec);
// Names are compressed as a real server does, unless `compress` is false: ldns's
// compression compares whole names in a red-black tree, O(labels^2) for a 34-label
// ip6.arpa name, which made it 80% of the benchmark responder's CPU (2026-11-23).
std::vector<std::uint8_t> make_wire(const ReplySpec& spec, bool compress = true);
std::vector<std::uint8_t> to_wire(const ldns_pkt& pkt, bool compress = true);

// A typical negative-answer SOA for `zone` with the given TTL and MINIMUM.
std::string soa_text(const std::string& zone, std::uint32_t ttl, std::uint32_t minimum);

}  // namespace rpd::test
