// lib/policy/request.hpp -- one Postfix policy delegation request (SMTPD_POLICY_README).
//
// Typed access to the attributes Postfix 3.x sends. Values are kept as received
// (bytes, unsanitised): whoever puts one into a reply or a log line sanitises it
// (log::sanitize). Unknown attributes are ignored; a repeated attribute keeps its last
// value. Not here: parsing bytes (parser.hpp), deciding (rules/checks).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/ip.hpp"

namespace rpd::policy {

enum class ProtocolState : std::uint8_t {
    Unknown, Connect, Ehlo, Helo, Mail, Rcpt, Data, EndOfMessage, Vrfy, Etrn,
};
ProtocolState parse_protocol_state(std::string_view text) noexcept;   // "RCPT" -> Rcpt
std::string_view to_string(ProtocolState s) noexcept;                 // Rcpt -> "RCPT"

struct Request {
    std::string request;               // "smtpd_access_policy"
    std::string protocol_state;        // as sent; see state()
    std::string protocol_name;         // SMTP, ESMTP
    std::string helo_name;
    std::string queue_id;
    std::string sender;
    std::string recipient;
    std::string recipient_count;
    std::string client_address;
    std::string client_name;
    std::string reverse_client_name;
    std::string instance;
    std::string sasl_method;
    std::string sasl_username;
    std::string sasl_sender;
    std::string size;
    std::string ccert_subject;
    std::string ccert_issuer;
    std::string ccert_fingerprint;
    std::string ccert_pubkey_fingerprint;
    std::string encryption_protocol;
    std::string encryption_cipher;
    std::string encryption_keysize;
    std::string etrn_domain;
    std::string stress;
    std::string client_port;
    std::string server_address;
    std::string server_port;
    std::string policy_context;
    std::string compatibility_level;
    std::string mail_version;

    ProtocolState state() const noexcept { return parse_protocol_state(protocol_state); }
    std::optional<util::IpAddress> client_ip() const { return util::IpAddress::parse(client_address); }
    // Domain part of the sender, lower-cased; "" for the null sender or none.
    std::string sender_domain() const;
    std::optional<std::uint64_t> size_bytes() const noexcept;
    std::optional<unsigned> recipient_count_value() const noexcept;

    // Stores `value` under `name` if the name is a known attribute; returns false (and
    // stores nothing) for an unknown one.
    bool set(std::string_view name, std::string_view value);
    // Empties every attribute but keeps the strings' memory, so a reused Request stores
    // the next request's values without allocating.
    void clear() noexcept;
    // Attribute by attribute (std::swap would move every string three times).
    void swap(Request& other) noexcept;
    friend void swap(Request& a, Request& b) noexcept { a.swap(b); }
};

}  // namespace rpd::policy
