// lib/checks/outcome.hpp -- what each check ends as (SPEC §3), with its evidence.
//
// Every check ends in exactly one outcome, named as the spec names it
// (ClientOutcome::NoPtr logs as "no_ptr"). A result carries every DnsResult the check
// used, in the order asked (question, status, records, TTL, server, time), and a short
// `detail` that says why, for the log, the {detail} placeholder and `check`. Values in
// `detail` that came from DNS or from the client are already sanitised.
// Not here: which action an outcome maps to (lib/rules).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/types.hpp"

namespace rpd::checks {

enum class CheckKind : std::uint8_t { Client, Helo, Sender };
inline constexpr std::size_t check_count = 3;
std::string_view to_string(CheckKind k) noexcept;   // "client", "helo", "sender"

enum class ClientOutcome : std::uint8_t { Pass, NoPtr, Mismatch, TempFail, Skip };
enum class HeloOutcome : std::uint8_t { Pass, Invalid, NonFqdn, NotFound, Forged, TempFail, Skip };
enum class SenderOutcome : std::uint8_t { Pass, NotFound, NullMx, Forged, TempFail, Skip };

// "pass", "no_ptr", "mismatch", "tempfail", "skip", "invalid", "non_fqdn", "not_found",
// "forged", "null_mx".
std::string_view to_string(ClientOutcome o) noexcept;
std::string_view to_string(HeloOutcome o) noexcept;
std::string_view to_string(SenderOutcome o) noexcept;

struct ClientResult {
    ClientOutcome outcome = ClientOutcome::Skip;
    std::string detail;
    std::vector<dns::DnsResult> lookups;
    // Every PTR target as received (sanitised), valid or not, for {ptr_names}.
    std::vector<std::string> ptr_names;
    // PTR names whose A/AAAA contain the client address, in PTR order (lower-case).
    std::vector<std::string> confirmed_names;
    // TempFail only: true when the PTR lookup itself failed, false when forward lookups did.
    bool ptr_failed = false;
};

struct HeloResult {
    HeloOutcome outcome = HeloOutcome::Skip;
    std::string detail;
    std::vector<dns::DnsResult> lookups;
    bool bad_literal = false;   // Invalid because of a malformed [address literal]
};

struct SenderResult {
    SenderOutcome outcome = SenderOutcome::Skip;
    std::string detail;
    std::vector<dns::DnsResult> lookups;
};

}  // namespace rpd::checks
