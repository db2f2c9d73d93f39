#include "dns/nameservers.hpp"

#include "config/settings.hpp"

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
    // One grammar for the config file and resolv.conf: the config loader's.
    auto parsed = config::parse_nameserver(text);
    if (auto* ns = std::get_if<config::NameServer>(&parsed)) return std::move(*ns);
    return std::nullopt;
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
