#include "dns/nameservers.hpp"

#include <fstream>
#include <sstream>

namespace rpd::dns {

namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Splits one line into its whitespace-separated words, stopping at a comment.
std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_space(line[i])) ++i;
        if (i >= line.size() || line[i] == '#' || line[i] == ';') break;
        const std::size_t start = i;
        while (i < line.size() && !is_space(line[i]) && line[i] != '#' && line[i] != ';') ++i;
        out.push_back(line.substr(start, i - start));
    }
    return out;
}

config::NameServer make_server(const util::IpAddress& address, std::uint16_t port) {
    config::NameServer ns;
    ns.address = address;
    ns.port = port;
    ns.text = server_text(address, port);
    return ns;
}

}  // namespace

std::string server_text(const util::IpAddress& address, std::uint16_t port) {
    if (address.is_v4()) return address.to_string() + ":" + std::to_string(port);
    return "[" + address.to_string() + "]:" + std::to_string(port);
}

std::optional<config::NameServer> parse_nameserver(std::string_view text) {
    std::string_view host = text;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port_text = rest.substr(1);
            if (port_text.empty()) return std::nullopt;
        }
    } else if (const std::size_t colon = text.find(':'); colon != std::string_view::npos &&
                                                         text.find(':', colon + 1) == std::string_view::npos) {
        host = text.substr(0, colon);   // exactly one colon: IPv4 with a port
        port_text = text.substr(colon + 1);
        if (port_text.empty()) return std::nullopt;
    }
    unsigned port = 53;
    if (!port_text.empty()) {
        if (port_text.size() > 5) return std::nullopt;
        port = 0;
        for (const char c : port_text) {
            if (c < '0' || c > '9') return std::nullopt;
            port = port * 10 + static_cast<unsigned>(c - '0');
        }
        if (port == 0 || port > 65535) return std::nullopt;
    }
    auto address = util::IpAddress::parse(host);
    if (!address) return std::nullopt;
    if (text.front() == '[' && address->is_v4()) return std::nullopt;   // "[192.0.2.1]" is not a form we know
    return make_server(*address, static_cast<std::uint16_t>(port));
}

std::vector<config::NameServer> parse_resolv_conf(std::string_view text) {
    std::vector<config::NameServer> out;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        const auto w = words(line);
        if (w.size() < 2 || w[0] != "nameserver") continue;
        if (auto address = util::IpAddress::parse(w[1])) out.push_back(make_server(*address, 53));
    }
    if (out.empty()) out.push_back(make_server(*util::IpAddress::parse("127.0.0.1"), 53));
    return out;
}

std::vector<config::NameServer> read_resolv_conf(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    return parse_resolv_conf(text.str());
}

std::vector<config::NameServer> effective_nameservers(const config::DnsConfig& cfg, const std::string& path) {
    if (!cfg.nameservers.empty()) return cfg.nameservers;
    return read_resolv_conf(path);
}

}  // namespace rpd::dns
