// contrib/bench/bench_zone.hpp -- the DNS answers for rpd-bench's generated names.
//
// In: a question (name, type) as a resolver asks it. Out: what the benchmark zone says:
// records as zone-file text, NODATA, NXDOMAIN (with the zone for the SOA), or REFUSED
// for names outside it. Synthesised from the name alone, no table, so any number of
// clients costs nothing: the reverse of the generator's naming scheme (requests.hpp,
// README.md "Generated requests"):
//   PTR  of 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32 -> host-<label>.bench.test
//   A|AAAA host-<label>.bench.test, helo-<label>.bench.test     -> the address (forward-confirmed)
//   A    helo<j>.bench.test                                      -> 192.0.2.(j mod 253 + 1)
//   MX   sender<s>.bench.test, sender-<label>.bench.test         -> 10 mx.<that domain>
//   A    mx.sender<s>.bench.test, mx.sender-<label>.bench.test   -> 203.0.113.254
//   SOA  bench.test
// Other types of those names are NODATA; other names under bench.test, in-addr.arpa and
// ip6.arpa NXDOMAIN; anything else REFUSED. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rpd::bench {

struct ZoneReply {
    enum class Kind { Answer, NoData, NxDomain, Refused };
    Kind kind = Kind::Refused;
    std::string zone;                    // whose SOA goes with a negative answer
    std::vector<std::string> records;    // for Answer: "host-192-0-2-8.bench.test. 3600 IN A 192.0.2.8"
};

inline constexpr std::string_view bench_domain = "bench.test";

// `qname` as asked (any case, with or without the trailing dot); `qtype` the RR type
// number (1 A, 28 AAAA, 12 PTR, 15 MX, 6 SOA); `ttl` for every record.
ZoneReply bench_zone_answer(std::string_view qname, std::uint16_t qtype, std::uint32_t ttl);

// The SOA record of `zone` with `ttl` as its TTL and MINIMUM (RFC 2308 negative TTL).
std::string bench_soa(std::string_view zone, std::uint32_t ttl);

}  // namespace rpd::bench
