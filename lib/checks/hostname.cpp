#include "checks/hostname.hpp"

namespace rpd::checks {

namespace {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool valid_hostname(std::string_view name) noexcept {
    if (name.empty() || name.size() > max_hostname_length) return false;
    bool non_numeric = false;
    std::size_t label_length = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool last = i + 1 == name.size();
        if (c == '.') {
            if (label_length == 0 || last) return false;   // empty label, leading/trailing dot
            label_length = 0;
            continue;
        }
        if (c == '-') {
            // Postfix: a hyphen may not start or end a label.
            if (label_length == 0 || last || name[i + 1] == '.') return false;
            non_numeric = true;
        } else if (is_alpha(c) || c == '_') {
            non_numeric = true;
        } else if (!is_digit(c)) {
            return false;   // includes '\\' from ldns escapes, spaces, controls, 8-bit bytes
        }
        if (++label_length > max_label_length) return false;
    }
    return non_numeric;   // "192.0.2.28" looks like an address, not a name
}

std::string_view strip_trailing_dot(std::string_view name) noexcept {
    if (name.size() > 1 && name.back() == '.' && name[name.size() - 2] != '.') name.remove_suffix(1);
    return name;
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = lower(c);
    return out;
}

bool is_ascii(std::string_view text) noexcept {
    for (const char c : text) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    return true;
}

bool equal_names(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

AddressLiteral parse_address_literal(std::string_view text) {
    AddressLiteral lit;
    if (text.empty() || text.front() != '[') return lit;
    lit.is_literal = true;
    if (text.size() < 3 || text.back() != ']') return lit;
    auto inside = text.substr(1, text.size() - 2);
    constexpr std::string_view v6_tag = "ipv6:";
    if (inside.size() > v6_tag.size() && equal_names(inside.substr(0, v6_tag.size()), v6_tag)) {
        const auto addr = util::IpAddress::parse(inside.substr(v6_tag.size()));
        if (addr && !addr->is_v4()) lit.address = addr;
        return lit;
    }
    // Without a tag only the dotted quad is allowed (RFC 5321 IPv4-address-literal).
    if (inside.find(':') != std::string_view::npos) return lit;
    const auto addr = util::IpAddress::parse(inside);
    if (addr && addr->is_v4()) lit.address = addr;
    return lit;
}

}  // namespace rpd::checks
