#include "util/ip.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace rpd::util {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    // inet_pton needs a NUL-terminated string; anything longer than an IPv6 text is wrong anyway.
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    IpAddress addr;
    if (inet_pton(AF_INET, buf, addr.bytes_.data()) == 1) {
        addr.family_ = Family::V4;
        return addr;
    }
    if (inet_pton(AF_INET6, buf, addr.bytes_.data()) == 1) {
        addr.family_ = Family::V6;
        return addr;
    }
    return std::nullopt;
}

IpAddress IpAddress::v4(const std::array<std::uint8_t, 4>& bytes) {
    IpAddress addr;
    addr.family_ = Family::V4;
    std::memcpy(addr.bytes_.data(), bytes.data(), 4);
    return addr;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& bytes) {
    IpAddress addr;
    addr.family_ = Family::V6;
    addr.bytes_ = bytes;
    return addr;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* sa) {
    if (sa == nullptr) return std::nullopt;
    IpAddress addr;
    if (sa->sa_family == AF_INET) {
        sockaddr_in sin;
        std::memcpy(&sin, sa, sizeof sin);
        addr.family_ = Family::V4;
        std::memcpy(addr.bytes_.data(), &sin.sin_addr, 4);
        return addr;
    }
    if (sa->sa_family == AF_INET6) {
        sockaddr_in6 sin6;
        std::memcpy(&sin6, sa, sizeof sin6);
        addr.family_ = Family::V6;
        std::memcpy(addr.bytes_.data(), &sin6.sin6_addr, 16);
        return addr;
    }
    return std::nullopt;
}

IpAddress IpAddress::unmapped() const noexcept {
    static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family_ == Family::V6 && std::memcmp(bytes_.data(), prefix, 12) == 0) {
        return v4({bytes_[12], bytes_[13], bytes_[14], bytes_[15]});
    }
    return *this;
}

bool IpAddress::is_loopback() const noexcept {
    const auto a = unmapped();
    if (a.is_v4()) return a.bytes_[0] == 127;
    static constexpr std::uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(a.bytes_.data(), one, 16) == 0;
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
    return buf;
}

std::string IpAddress::reverse_name() const {
    std::string out;
    if (is_v4()) {
        for (int i = 3; i >= 0; --i) {
            out += std::to_string(bytes_[static_cast<std::size_t>(i)]);
            out += '.';
        }
        out += "in-addr.arpa";
        return out;
    }
    static constexpr char hex[] = "0123456789abcdef";
    out.reserve(72);
    for (int i = 15; i >= 0; --i) {
        const auto b = bytes_[static_cast<std::size_t>(i)];
        out += hex[b & 0xf];
        out += '.';
        out += hex[b >> 4];
        out += '.';
    }
    out += "ip6.arpa";
    return out;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
    const auto slash = text.find('/');
    auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    const unsigned max_len = addr->is_v4() ? 32 : 128;
    unsigned len = max_len;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        const auto* end = digits.data() + digits.size();
        const auto [ptr, ec] = std::from_chars(digits.data(), end, len);
        if (digits.empty() || ec != std::errc{} || ptr != end || len > max_len) return std::nullopt;
    }
    Cidr cidr;
    cidr.prefix_ = len;
    // Keep only the network bits, so "192.0.2.7/24" means 192.0.2.0/24 (as Postfix cidr tables do not;
    // we accept it because admins write it and its meaning is unambiguous).
    auto bytes = std::array<std::uint8_t, 16>{};
    std::memcpy(bytes.data(), addr->bytes(), addr->size());
    for (unsigned bit = len; bit < max_len; ++bit) bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
    cidr.network_ = addr->is_v4() ? IpAddress::v4({bytes[0], bytes[1], bytes[2], bytes[3]}) : IpAddress::v6(bytes);
    return cidr;
}

bool Cidr::contains(const IpAddress& candidate) const noexcept {
    const auto addr = network_.is_v4() ? candidate.unmapped() : candidate;
    if (addr.family() != network_.family()) return false;
    const auto* a = addr.bytes();
    const auto* n = network_.bytes();
    unsigned full = prefix_ / 8;
    if (std::memcmp(a, n, full) != 0) return false;
    const unsigned rest = prefix_ % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
    return (a[full] & mask) == (n[full] & mask);
}

std::string Cidr::to_string() const {
    return network_.to_string() + "/" + std::to_string(prefix_);
}

}  // namespace rpd::util
