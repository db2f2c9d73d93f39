// lib/dns/wire.hpp -- DNS messages in and out: ldns builds the questions and reads the replies.
//
// In: a name and type to ask; the bytes a server sent back. Out: the query's wire bytes;
// whether a reply belongs to our question; the DnsResult a reply means (status, records,
// TTL, CNAME chain). Pure: no I/O, no clock, no libevent, so unit tests feed it packets.
// A reply is never asserted on: anything we cannot read is `BadResponse` (or not ours).
// Not here: sending, timeouts, retries, the cache (lib/dns/resolver, lib/dns/cache).
#pragma once

#include "dns/ldns.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/types.hpp"
#include "util/cptr.hpp"

namespace rpd::dns {

using PacketPtr = util::CPtr<ldns_pkt, ldns_pkt_free>;
using RdfPtr = util::CPtr<ldns_rdf, ldns_rdf_deep_free>;
using RrListPtr = util::CPtr<ldns_rr_list, ldns_rr_list_deep_free>;   // only for clones

// RFC 8020 / DNS flag day 2020: a buffer size that avoids IP fragmentation.
inline constexpr std::uint16_t edns_udp_size = 1232;
// CNAMEs followed inside one answer before it counts as a loop (BadResponse).
inline constexpr unsigned max_cname_steps = 8;

// A question as ldns holds it. `name` is absolute; `text` is the name as the caller
// asked it, without the trailing dot (what DnsResult::name reports).
struct Question {
    RdfPtr name;
    RrType type = RrType::A;
    std::string text;
};

// Parses an absolute or relative name ("host.example.test", "host.example.test.", "." or
// "" for the root); relative names are taken as absolute (SPEC §6: no search list).
// Escapes as in zone files ("a\.b", "\010"). nullopt for a name that cannot be a domain
// name (empty label, label over 63 octets, over 255 octets in all).
std::optional<Question> make_question(std::string_view name, RrType type);

// The cache and in-flight key: the lower-cased wire form of the name plus the type, so
// "Host.Example.TEST." and "host.example.test" share one entry.
std::string question_key(const Question& q);

// The query: RD set, the given ID, one question in class IN, and an EDNS0 OPT record
// offering `edns_udp_size` with DO clear. Empty only if ldns fails to allocate.
std::vector<std::uint8_t> build_query(const Question& q, std::uint16_t id);

// The bytes as a packet, or null if they are not a DNS message ldns can read.
PacketPtr decode(std::span<const std::uint8_t> bytes);

// Why a reply does not belong to our question (or `Ours`). Such replies are dropped and
// the query keeps waiting for the real one (a spoofer can race, not overwrite).
enum class ReplyMatch : std::uint8_t { Ours, NotAResponse, WrongId, WrongQuestion };
ReplyMatch match_reply(const ldns_pkt& reply, std::uint16_t id, const Question& q);
std::string_view to_string(ReplyMatch m) noexcept;

// What a reply (already matched to `q`) means. Sets status, name, type, addresses, names,
// mx, cname_chain, records, ttl. Leaves server, elapsed, from_cache to the caller.
//   NOERROR + records of the type (after CNAMEs) -> Answer, ttl = min TTL of the RRs used
//   NOERROR without                              -> NoData, ttl = negative TTL
//   NXDOMAIN                                     -> NxDomain, ttl = negative TTL
//   SERVFAIL / REFUSED                           -> ServFail / Refused
//   FORMERR, NOTIMP, any other rcode, a CNAME loop or a chain longer than
//   max_cname_steps, an unreadable record        -> BadResponse
// The negative TTL is RFC 2308's min(SOA TTL, SOA MINIMUM) from the authority section,
// 0 without an SOA. The TC flag is the caller's business (retry over TCP).
// `record_text`: fill `records` with each answer RR in presentation form (evidence for
// `check` and debug lines); without it `records` stays empty and the rest is the same.
DnsResult interpret(const ldns_pkt& reply, const Question& q, bool record_text = true);

// A domain name in presentation form without the trailing dot ("" for the root), with
// ldns's escapes for odd bytes ("bad\010name.example.test").
std::string name_to_text(const ldns_rdf& dname);

}  // namespace rpd::dns
