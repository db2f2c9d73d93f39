// contrib/bench/requests.cpp -- see requests.hpp.
#include "requests.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace rpd::bench {

// ---- request files --------------------------------------------------------

std::unique_ptr<FileSource> FileSource::load(const std::string& path, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = fmt::format("{}: cannot open: {}", path, std::strerror(errno));
        return nullptr;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        error = fmt::format("{}: read error", path);
        return nullptr;
    }
    return from_text(text.str(), path, error);
}

std::unique_ptr<FileSource> FileSource::from_text(std::string_view text, const std::string& name, std::string& error) {
    auto src = std::unique_ptr<FileSource>(new FileSource);
    src->name_ = name;
    std::string block;
    unsigned lineno = 0;
    auto end_block = [&] {
        if (block.empty()) return;
        block += '\n';
        src->blocks_.push_back(std::move(block));
        block.clear();
    };
    while (!text.empty()) {
        ++lineno;
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (line.starts_with('#')) continue;
        if (line.find_first_not_of(" \t") == std::string_view::npos) {
            end_block();
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            error = fmt::format("{}:{}: expected name=value", name, lineno);
            return nullptr;
        }
        block.append(line);
        block += '\n';
    }
    end_block();
    if (src->blocks_.empty()) {
        error = fmt::format("{}: no requests", name);
        return nullptr;
    }
    return src;
}

std::string_view FileSource::render(std::uint64_t seq, std::span<char>) const noexcept {
    return blocks_[seq % blocks_.size()];
}

std::string FileSource::describe() const {
    return fmt::format("file {} ({} requests, cycled)", name_, blocks_.size());
}

// ---- generated names ------------------------------------------------------

std::size_t format_client_address(std::uint64_t i, char* out) noexcept {
    if (i < ipv4_clients) {
        static constexpr std::array<std::array<unsigned char, 3>, 3> nets{{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}};
        const auto& net = nets[i / 253];
        const unsigned char bytes[4] = {net[0], net[1], net[2], static_cast<unsigned char>(i % 253 + 1)};
        inet_ntop(AF_INET, bytes, out, INET6_ADDRSTRLEN);
        return std::strlen(out);
    }
    // 2001:db8::/32. The last group is 1..0xffff so the text never ends in "::" and
    // its label never ends in '-'.
    const std::uint64_t j = i - ipv4_clients;
    const std::uint64_t rest = j / 0xffff;
    const std::uint16_t groups[8] = {
        0x2001, 0x0db8, 0, static_cast<std::uint16_t>(rest >> 48), static_cast<std::uint16_t>(rest >> 32),
        static_cast<std::uint16_t>(rest >> 16), static_cast<std::uint16_t>(rest),
        static_cast<std::uint16_t>(j % 0xffff + 1)};
    unsigned char bytes[16];
    for (int g = 0; g < 8; ++g) {
        bytes[2 * g] = static_cast<unsigned char>(groups[g] >> 8);
        bytes[2 * g + 1] = static_cast<unsigned char>(groups[g]);
    }
    inet_ntop(AF_INET6, bytes, out, INET6_ADDRSTRLEN);
    return std::strlen(out);
}

std::size_t address_label(std::string_view address, char* out) noexcept {
    for (std::size_t k = 0; k < address.size(); ++k) out[k] = (address[k] == '.' || address[k] == ':') ? '-' : address[k];
    return address.size();
}

// ---- the generator --------------------------------------------------------

namespace {

// Appends into a fixed buffer; remembers overflow instead of writing past the end.
class Writer {
public:
    explicit Writer(std::span<char> buf) : p_(buf.data()), end_(buf.data() + buf.size()) {}
    Writer& put(std::string_view s) noexcept {
        if (static_cast<std::size_t>(end_ - p_) < s.size()) {
            overflow_ = true;
            return *this;
        }
        std::memcpy(p_, s.data(), s.size());
        p_ += s.size();
        return *this;
    }
    Writer& num(std::uint64_t v, int base = 10) noexcept {
        char tmp[24];
        const auto r = std::to_chars(tmp, tmp + sizeof tmp, v, base);
        return put(std::string_view(tmp, static_cast<std::size_t>(r.ptr - tmp)));
    }
    bool overflow() const noexcept { return overflow_; }
    char* pos() const noexcept { return p_; }

private:
    char* p_;
    char* end_;
    bool overflow_ = false;
};

}  // namespace

std::string_view Generator::render(std::uint64_t seq, std::span<char> scratch) const noexcept {
    const bool unique = opts_.unique_clients;
    const std::uint64_t pool = opts_.clients == 0 ? 1 : opts_.clients;
    const std::uint64_t client = opts_.client_offset + (unique ? seq : seq % pool);
    // The n-th request of this client; with instances_per_client = k its requests cycle
    // through k Postfix instances, so the daemon may reuse a transaction's results.
    const std::uint64_t nth = unique ? 0 : seq / pool;
    const std::uint64_t instance = opts_.instances_per_client == 0 ? seq : nth % opts_.instances_per_client;

    char addr[INET6_ADDRSTRLEN];
    const std::size_t addr_len = format_client_address(client, addr);
    const std::string_view address(addr, addr_len);
    char label_buf[INET6_ADDRSTRLEN];
    const std::string_view label(label_buf, address_label(address, label_buf));

    Writer w(scratch);
    w.put("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nhelo_name=");
    if (unique) w.put("helo-").put(label).put(".bench.test");
    else w.put("helo").num(seq % (opts_.helos == 0 ? 1 : opts_.helos)).put(".bench.test");
    // The queue file is created only after the first recipient is accepted: empty here.
    w.put("\nqueue_id=\nsender=");
    if (unique) w.put("user@sender-").put(label).put(".bench.test");
    else {
        const std::uint64_t s = seq % (opts_.senders == 0 ? 1 : opts_.senders);
        w.put("user").num(s).put("@sender").num(s).put(".bench.test");
    }
    w.put("\nrecipient=user").num(seq % 1000).put("@example.org");
    w.put("\nrecipient_count=0\nclient_address=").put(address);
    w.put("\nclient_name=host-").put(label).put(".bench.test");
    w.put("\nreverse_client_name=host-").put(label).put(".bench.test");
    w.put("\ninstance=").num(opts_.run_id, 16).put(".").num(client, 16).put(".").num(instance, 16).put(".0");
    w.put("\nsasl_method=\nsasl_username=\nsasl_sender=\nsize=").num(1000 + (seq * 7919) % 200000);
    w.put("\nccert_subject=\nccert_issuer=\nccert_fingerprint=\nccert_pubkey_fingerprint="
          "\nencryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\nencryption_keysize=256"
          "\netrn_domain=\nstress=\nclient_port=")
        .num(1024 + (seq * 7919) % 64511);
    w.put("\npolicy_context=\nserver_address=203.0.113.254\nserver_port=25"
          "\ncompatibility_level=3.6\nmail_version=3.7.11\n\n");
    if (w.overflow()) return {};
    return {scratch.data(), static_cast<std::size_t>(w.pos() - scratch.data())};
}

std::string Generator::describe() const {
    if (opts_.unique_clients)
        return fmt::format("generator (a new client per request from #{}, own HELO and sender each)", opts_.client_offset);
    return fmt::format("generator ({} clients from #{}, {} HELOs, {} senders, {})", opts_.clients, opts_.client_offset,
                       opts_.helos, opts_.senders,
                       opts_.instances_per_client == 0
                           ? std::string("a fresh instance per request")
                           : fmt::format("{} instances per client", opts_.instances_per_client));
}

}  // namespace rpd::bench
