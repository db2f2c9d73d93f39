// contrib/bench/cache_mem.cpp -- rpd-bench-cache: what one DNS cache entry costs in memory.
//
// Inserts N typical answers into a dns::Cache of capacity N and prints the heap bytes
// per entry (glibc mallinfo2(): in-use chunks, allocator overhead included, plus mmapped
// blocks such as a large hash table) and the RSS before and after, then the time of one
// find() (every entry once, shuffled: the lookup and the copy handed out). The answers are what
// the resolver makes of the benchmark zone's replies (bench_zone.hpp), records spelt as
// wire.cpp spells them ("host-192-0-2-8.bench.test. 3600 IN A 192.0.2.8"):
//   ptr   PTR of client 2001:db8::<i> (ip6.arpa) -> host-<label>.bench.test
//   a     A of host-<label>.bench.test -> 192.0.2.x
//   aaaa  AAAA of host-<label>.bench.test -> 2001:db8::<i>
//   mx    MX of sender-<label>.bench.test -> 10 mx.sender-<label>.bench.test
//   nx    NXDOMAIN for helo-<label>.bench.test, no records
//   all   the five in turn (the default)
// Usage: rpd-bench-cache [N] [all|ptr|a|aaaa|mx|nx]   (N: 800000)
// Exit status: 0; 1 usage error.
#include <malloc.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <random>
#include <vector>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "dns/cache.hpp"
#include "dns/wire.hpp"
#include "util/ip.hpp"

namespace {

using namespace rpd;
using dns::DnsResult;
using dns::DnsStatus;
using dns::RrType;

constexpr std::uint32_t ttl = 3600;
const std::string server = "127.0.0.1:53";

std::size_t heap_bytes() {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

std::size_t rss_bytes() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
}

// Client i: 2001:db8::<i>. Only IPv6: the documentation's IPv4 ranges hold 762 addresses,
// too few for distinct questions; its PTR name (ip6.arpa, 72 characters) is the longer one.
util::IpAddress client_address(std::size_t i) {
    std::array<std::uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
    for (std::size_t k = 0; k < 4; ++k) b[15 - k] = static_cast<std::uint8_t>(i >> (8 * k));
    return util::IpAddress::v6(b);
}

// "2001-db8--2a": the generator's label for an address (':' and '.' -> '-').
std::string label_of(const util::IpAddress& a) {
    std::string s = a.to_string();
    for (char& c : s) {
        if (c == '.' || c == ':') c = '-';
    }
    return s;
}

DnsResult answer(std::string name, RrType type) {
    DnsResult r;
    r.status = DnsStatus::Answer;
    r.name = std::move(name);
    r.type = type;
    r.ttl = ttl;
    r.server = server;
    r.elapsed = std::chrono::microseconds{800};
    return r;
}

std::string record(const std::string& owner, std::string_view type, const std::string& data) {
    return fmt::format("{}. {} IN {} {}", owner, ttl, type, data);
}

DnsResult make_entry(std::string_view kind, std::size_t i) {
    const util::IpAddress client = client_address(i);
    const std::string label = label_of(client);
    const std::string host = fmt::format("host-{}.bench.test", label);
    if (kind == "ptr") {
        DnsResult r = answer(client.reverse_name(), RrType::Ptr);
        r.names = {host};
        r.records = {record(r.name, "PTR", host + ".")};
        return r;
    }
    if (kind == "a") {
        const auto addr = util::IpAddress::v4({192, 0, 2, static_cast<std::uint8_t>(i % 254 + 1)});
        DnsResult r = answer(host, RrType::A);
        r.addresses = {addr};
        r.records = {record(r.name, "A", addr.to_string())};
        return r;
    }
    if (kind == "aaaa") {
        DnsResult r = answer(host, RrType::Aaaa);
        r.addresses = {client};
        r.records = {record(r.name, "AAAA", client.to_string())};
        return r;
    }
    if (kind == "mx") {
        DnsResult r = answer(fmt::format("sender-{}.bench.test", label), RrType::Mx);
        r.mx = {dns::MxRecord{10, "mx." + r.name}};
        r.records = {record(r.name, "MX", fmt::format("10 mx.{}.", r.name))};
        return r;
    }
    DnsResult r = answer(fmt::format("helo-{}.bench.test", label), RrType::A);
    r.status = DnsStatus::NxDomain;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 800'000;
    std::string_view kind = "all";
    if (argc > 1) {
        const std::string_view arg = argv[1];
        const auto r = std::from_chars(arg.data(), arg.data() + arg.size(), n);
        if (r.ec != std::errc{} || r.ptr != arg.data() + arg.size() || n == 0) {
            std::fputs("usage: rpd-bench-cache [N] [all|ptr|a|aaaa|mx|nx]\n", stderr);
            return 1;
        }
    }
    if (argc > 2) kind = argv[2];
    static constexpr std::string_view kinds[] = {"ptr", "a", "aaaa", "mx", "nx"};
    if (argc > 3 || (kind != "all" && std::find(std::begin(kinds), std::end(kinds), kind) == std::end(kinds))) {
        std::fputs("usage: rpd-bench-cache [N] [all|ptr|a|aaaa|mx|nx]\n", stderr);
        return 1;
    }

    dns::Cache cache(n);
    const dns::TimePoint now{};
    const std::size_t heap_before = heap_bytes(), rss_before = rss_bytes();
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view k = kind == "all" ? kinds[i % 5] : kind;
        DnsResult r = make_entry(k, i);
        const auto question = dns::make_question(r.name, r.type);
        if (!question) {
            std::fprintf(stderr, "rpd-bench-cache: bad name %s\n", r.name.c_str());
            return 1;
        }
        cache.insert(dns::question_key(*question), std::move(r), now, now + std::chrono::seconds{ttl});
    }
    const std::size_t heap_after = heap_bytes(), rss_after = rss_bytes();
    if (cache.size() != n) {
        std::fprintf(stderr, "rpd-bench-cache: %zu entries kept of %zu (duplicate keys?)\n", cache.size(), n);
        return 1;
    }
    fmt::print("entries {} ({})\n", n, kind);
    fmt::print("heap    {} -> {} bytes: {:.1f} bytes/entry\n", heap_before, heap_after,
               static_cast<double>(heap_after - heap_before) / static_cast<double>(n));
    fmt::print("rss     {} -> {} bytes: {:.1f} bytes/entry\n", rss_before, rss_after,
               static_cast<double>(rss_after - rss_before) / static_cast<double>(n));

    // Keys made before the clock starts: making them costs more than finding them.
    std::vector<std::string> keys;
    keys.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const DnsResult r = make_entry(kind == "all" ? kinds[i % 5] : kind, i);
        keys.push_back(dns::question_key(*dns::make_question(r.name, r.type)));
    }
    std::shuffle(keys.begin(), keys.end(), std::mt19937{42});
    std::size_t hits = 0, records = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& key : keys) {
        if (const auto hit = cache.find(key, now)) {
            ++hits;
            records += hit->records.size();
        }
    }
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    if (hits != n) {
        std::fprintf(stderr, "rpd-bench-cache: %zu of %zu found\n", hits, n);
        return 1;
    }
    fmt::print("find    {:.0f} ns each ({} records handed out)\n", took.count() / static_cast<double>(n), records);
    return 0;
}
