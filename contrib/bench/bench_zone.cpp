// contrib/bench/bench_zone.cpp -- see bench_zone.hpp.
#include "bench_zone.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "requests.hpp"

namespace rpd::bench {
namespace {

constexpr std::uint16_t type_a = 1, type_soa = 6, type_ptr = 12, type_mx = 15, type_aaaa = 28;

struct Address {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{};
    std::string text;   // canonical
};

bool in_benchmark_ranges(const Address& a) {
    if (!a.v6) {
        const auto b = a.bytes;
        return (b[0] == 192 && b[1] == 0 && b[2] == 2) || (b[0] == 198 && b[1] == 51 && b[2] == 100) ||
               (b[0] == 203 && b[1] == 0 && b[2] == 113);
    }
    return a.bytes[0] == 0x20 && a.bytes[1] == 0x01 && a.bytes[2] == 0x0d && a.bytes[3] == 0xb8;
}

std::optional<Address> from_bytes(bool v6, const unsigned char* bytes) {
    Address a;
    a.v6 = v6;
    std::memcpy(a.bytes.data(), bytes, v6 ? 16 : 4);
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof buf) == nullptr) return std::nullopt;
    a.text = buf;
    return a;
}

// "8.2.0.192.in-addr.arpa" / 32 nibbles + "ip6.arpa" -> the address; nullopt otherwise.
std::optional<Address> parse_reverse(std::string_view name) {
    std::vector<std::string_view> labels;
    while (!name.empty()) {
        const auto dot = name.find('.');
        labels.push_back(name.substr(0, dot));
        name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    }
    if (labels.size() == 6 && labels[4] == "in-addr" && labels[5] == "arpa") {
        unsigned char b[4];
        for (int i = 0; i < 4; ++i) {
            const auto l = labels[static_cast<std::size_t>(3 - i)];
            unsigned v = 256;
            const auto r = std::from_chars(l.data(), l.data() + l.size(), v);
            if (l.empty() || l.size() > 3 || r.ec != std::errc{} || r.ptr != l.data() + l.size() || v > 255) return std::nullopt;
            b[i] = static_cast<unsigned char>(v);
        }
        return from_bytes(false, b);
    }
    if (labels.size() == 34 && labels[32] == "ip6" && labels[33] == "arpa") {
        unsigned char b[16] = {};
        for (int i = 0; i < 32; ++i) {
            const auto l = labels[static_cast<std::size_t>(31 - i)];
            if (l.size() != 1 || !std::isxdigit(static_cast<unsigned char>(l[0]))) return std::nullopt;
            const int c = std::tolower(static_cast<unsigned char>(l[0]));
            const int v = c <= '9' ? c - '0' : c - 'a' + 10;
            b[i / 2] = static_cast<unsigned char>(b[i / 2] | (i % 2 == 0 ? v << 4 : v));
        }
        return from_bytes(true, b);
    }
    return std::nullopt;
}

// "192-0-2-8" / "2001-db8--2a" -> the address, only in its canonical spelling.
std::optional<Address> parse_label(std::string_view label) {
    if (label.empty() || label.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    const bool v4 = std::count(label.begin(), label.end(), '-') == 3 &&
                    label.find_first_not_of("0123456789-") == std::string_view::npos;
    std::string text(label);
    std::replace(text.begin(), text.end(), '-', v4 ? '.' : ':');
    unsigned char b[16];
    if (inet_pton(v4 ? AF_INET : AF_INET6, text.c_str(), b) != 1) return std::nullopt;
    auto a = from_bytes(!v4, b);
    if (!a || a->text != text) return std::nullopt;
    return a;
}

std::optional<std::uint64_t> parse_index(std::string_view digits) {
    std::uint64_t v = 0;
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || r.ec != std::errc{} || r.ptr != digits.data() + digits.size()) return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;   // one spelling per name
    return v;
}

std::string label_of(const Address& a) {
    char buf[INET6_ADDRSTRLEN];
    return std::string(buf, address_label(a.text, buf));
}

ZoneReply answer(std::string_view zone, std::vector<std::string> records) {
    return {ZoneReply::Kind::Answer, std::string(zone), std::move(records)};
}
ZoneReply negative(ZoneReply::Kind kind, std::string_view zone) { return {kind, std::string(zone), {}}; }

}  // namespace

std::string bench_soa(std::string_view zone, std::uint32_t ttl) {
    return fmt::format("{0}. {1} IN SOA ns.{2}. hostmaster.{2}. 1 3600 600 86400 {1}", zone, ttl, bench_domain);
}

ZoneReply bench_zone_answer(std::string_view qname, std::uint16_t qtype, std::uint32_t ttl) {
    std::string name(qname);
    if (!name.empty() && name.back() == '.') name.pop_back();
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string owner = name + ".";
    auto rr = [&](std::string_view type, const std::string& data) { return fmt::format("{} {} IN {} {}", owner, ttl, type, data); };

    // Reverse names.
    for (const std::string_view zone : {std::string_view("in-addr.arpa"), std::string_view("ip6.arpa")}) {
        if (name != zone && !name.ends_with(fmt::format(".{}", zone))) continue;
        const auto a = parse_reverse(name);
        if (!a || !in_benchmark_ranges(*a)) return negative(ZoneReply::Kind::NxDomain, zone);
        if (qtype != type_ptr) return negative(ZoneReply::Kind::NoData, zone);
        return answer(zone, {rr("PTR", fmt::format("host-{}.{}.", label_of(*a), bench_domain))});
    }

    const std::string suffix = fmt::format(".{}", bench_domain);
    if (name == bench_domain) {
        if (qtype == type_soa) return answer(bench_domain, {bench_soa(bench_domain, ttl)});
        return negative(ZoneReply::Kind::NoData, bench_domain);
    }
    if (!name.ends_with(suffix)) return negative(ZoneReply::Kind::Refused, "");
    const std::string_view host = std::string_view(name).substr(0, name.size() - suffix.size());
    const auto nx = negative(ZoneReply::Kind::NxDomain, bench_domain);
    const auto nodata = negative(ZoneReply::Kind::NoData, bench_domain);

    // host-<label>, helo-<label>: the address itself.
    for (const std::string_view prefix : {std::string_view("host-"), std::string_view("helo-")}) {
        if (!host.starts_with(prefix)) continue;
        const auto a = parse_label(host.substr(prefix.size()));
        if (!a || !in_benchmark_ranges(*a)) return nx;
        if (qtype == (a->v6 ? type_aaaa : type_a)) return answer(bench_domain, {rr(a->v6 ? "AAAA" : "A", a->text)});
        return nodata;
    }
    // helo<j>
    if (host.starts_with("helo")) {
        const auto j = parse_index(host.substr(4));
        if (!j) return nx;
        if (qtype == type_a) return answer(bench_domain, {rr("A", fmt::format("192.0.2.{}", *j % 253 + 1))});
        return nodata;
    }
    // sender<s>, sender-<label>, and their mx.
    const bool is_mx_host = host.starts_with("mx.");
    const std::string_view domain = is_mx_host ? host.substr(3) : host;
    bool sender = false;
    if (domain.starts_with("sender-")) {
        const auto a = parse_label(domain.substr(7));
        sender = a && in_benchmark_ranges(*a);
    } else if (domain.starts_with("sender")) {
        sender = parse_index(domain.substr(6)).has_value();
    }
    if (!sender) return nx;
    if (is_mx_host) {
        if (qtype == type_a) return answer(bench_domain, {rr("A", "203.0.113.254")});
        return nodata;
    }
    if (qtype == type_mx) return answer(bench_domain, {rr("MX", fmt::format("10 mx.{}.", name))});
    return nodata;
}

}  // namespace rpd::bench
