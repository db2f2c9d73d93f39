#include "policy/request.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <utility>

namespace rpd::policy {

namespace {

constexpr std::array<std::pair<std::string_view, ProtocolState>, 9> state_names{{
    {"CONNECT", ProtocolState::Connect}, {"EHLO", ProtocolState::Ehlo}, {"HELO", ProtocolState::Helo},
    {"MAIL", ProtocolState::Mail}, {"RCPT", ProtocolState::Rcpt}, {"DATA", ProtocolState::Data},
    {"END-OF-MESSAGE", ProtocolState::EndOfMessage}, {"VRFY", ProtocolState::Vrfy},
    {"ETRN", ProtocolState::Etrn},
}};

using Field = std::string Request::*;
constexpr std::array<std::pair<std::string_view, Field>, 31> fields{{
    {"request", &Request::request},
    {"protocol_state", &Request::protocol_state},
    {"protocol_name", &Request::protocol_name},
    {"helo_name", &Request::helo_name},
    {"queue_id", &Request::queue_id},
    {"sender", &Request::sender},
    {"recipient", &Request::recipient},
    {"recipient_count", &Request::recipient_count},
    {"client_address", &Request::client_address},
    {"client_name", &Request::client_name},
    {"reverse_client_name", &Request::reverse_client_name},
    {"instance", &Request::instance},
    {"sasl_method", &Request::sasl_method},
    {"sasl_username", &Request::sasl_username},
    {"sasl_sender", &Request::sasl_sender},
    {"size", &Request::size},
    {"ccert_subject", &Request::ccert_subject},
    {"ccert_issuer", &Request::ccert_issuer},
    {"ccert_fingerprint", &Request::ccert_fingerprint},
    {"ccert_pubkey_fingerprint", &Request::ccert_pubkey_fingerprint},
    {"encryption_protocol", &Request::encryption_protocol},
    {"encryption_cipher", &Request::encryption_cipher},
    {"encryption_keysize", &Request::encryption_keysize},
    {"etrn_domain", &Request::etrn_domain},
    {"stress", &Request::stress},
    {"client_port", &Request::client_port},
    {"server_address", &Request::server_address},
    {"server_port", &Request::server_port},
    {"policy_context", &Request::policy_context},
    {"compatibility_level", &Request::compatibility_level},
    {"mail_version", &Request::mail_version},
}};

// Postfix sends about 30 attributes per request, so finding a name is on the hot path:
// one table slot, one comparison. The slot mixes the name's length and its first and
// last bytes; these multipliers give each of the 31 names its own slot of 64 (checked
// at compile time, so a new attribute that collides does not build).
constexpr std::size_t slot_count = 64;
constexpr std::uint8_t no_field = 0xff;

constexpr std::size_t slot_of(std::string_view name) noexcept {
    return (name.size() * 30 + static_cast<unsigned char>(name.front()) * 46U +
            static_cast<unsigned char>(name.back())) % slot_count;
}

constexpr auto field_at_slot = [] {
    std::array<std::uint8_t, slot_count> slots{};
    for (auto& s : slots) s = no_field;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        auto& slot = slots[slot_of(fields[i].first)];
        if (slot != no_field) throw "two attribute names share a slot: change slot_of()'s multipliers";
        slot = static_cast<std::uint8_t>(i);
    }
    return slots;
}();

template <class T>
std::optional<T> parse_number(std::string_view text) noexcept {
    T value{};
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
    return value;
}

}  // namespace

ProtocolState parse_protocol_state(std::string_view text) noexcept {
    for (const auto& [name, state] : state_names) {
        if (name == text) return state;
    }
    return ProtocolState::Unknown;
}

std::string_view to_string(ProtocolState s) noexcept {
    for (const auto& [name, state] : state_names) {
        if (state == s) return name;
    }
    return "UNKNOWN";
}

bool Request::set(std::string_view name, std::string_view value) {
    if (name.empty()) return false;
    const auto i = field_at_slot[slot_of(name)];
    if (i == no_field) return false;
    const auto& [field_name, field] = fields[i];
    if (field_name.size() != name.size() || std::memcmp(field_name.data(), name.data(), name.size()) != 0) {
        return false;
    }
    (this->*field).assign(value);
    return true;
}

void Request::clear() noexcept {
    for (const auto& [name, field] : fields) (this->*field).clear();
}

void Request::swap(Request& other) noexcept {
    for (const auto& [name, field] : fields) (this->*field).swap(other.*field);
}

std::string Request::sender_domain() const {
    const auto at = sender.rfind('@');
    if (at == std::string::npos) return {};
    std::string domain = sender.substr(at + 1);
    std::transform(domain.begin(), domain.end(), domain.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return domain;
}

std::optional<std::uint64_t> Request::size_bytes() const noexcept { return parse_number<std::uint64_t>(size); }

std::optional<unsigned> Request::recipient_count_value() const noexcept {
    return parse_number<unsigned>(recipient_count);
}

}  // namespace rpd::policy
