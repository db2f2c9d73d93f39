// lib/util/ip.hpp -- IPv4/IPv6 addresses and CIDR prefixes, as values.
//
// In: text as Postfix sends client_address ("192.0.2.1", "2001:db8::1", also
// "::ffff:192.0.2.1") or as the config writes CIDRs ("192.0.2.0/24", "::1/128",
// a bare address = host prefix). Out: IpAddress / Cidr or nullopt. inet_pton only:
// no name resolution here, nothing that blocks.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;

namespace rpd::util {

class IpAddress {
public:
    enum class Family : std::uint8_t { V4, V6 };

    IpAddress() = default;
    static std::optional<IpAddress> parse(std::string_view text);
    static IpAddress v4(const std::array<std::uint8_t, 4>& bytes);
    static IpAddress v6(const std::array<std::uint8_t, 16>& bytes);
    static std::optional<IpAddress> from_sockaddr(const sockaddr* sa);

    Family family() const noexcept { return family_; }
    bool is_v4() const noexcept { return family_ == Family::V4; }
    // 4 bytes for V4, 16 for V6.
    const std::uint8_t* bytes() const noexcept { return bytes_.data(); }
    std::size_t size() const noexcept { return is_v4() ? 4 : 16; }

    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it carries.
    IpAddress unmapped() const noexcept;
    bool is_loopback() const noexcept;   // 127.0.0.0/8, ::1 (also mapped)

    std::string to_string() const;       // canonical inet_ntop text
    // The PTR question: "9.113.0.203.in-addr.arpa" or the ip6.arpa nibbles (no trailing dot).
    std::string reverse_name() const;

    friend bool operator==(const IpAddress&, const IpAddress&) = default;
    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

private:
    Family family_ = Family::V4;
    std::array<std::uint8_t, 16> bytes_{};
};

class Cidr {
public:
    static std::optional<Cidr> parse(std::string_view text);
    bool contains(const IpAddress& addr) const noexcept;   // mapped IPv4 matches IPv4 prefixes
    std::string to_string() const;
    const IpAddress& network() const noexcept { return network_; }
    unsigned prefix_length() const noexcept { return prefix_; }

    friend bool operator==(const Cidr&, const Cidr&) = default;

private:
    IpAddress network_;
    unsigned prefix_ = 0;
};

}  // namespace rpd::util
