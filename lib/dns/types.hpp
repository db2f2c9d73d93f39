// lib/dns/types.hpp -- what a DNS question ends as, and the Resolver interface the checks use.
//
// Every question ends in exactly one DnsResult. Only NxDomain and NoData prove that
// something does not exist; every other non-Answer status means "could not find out"
// and must never become a permanent rejection. This header has no ldns or libevent in
// it: lib/checks sees DNS only through Resolver, so tests hand it canned results.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/ip.hpp"

namespace rpd::dns {

enum class DnsStatus : std::uint8_t {
    Answer,                                              // records + TTL
    NxDomain, NoData,                                    // proven absent (cacheable, RFC 2308)
    ServFail, Refused, Timeout, BadResponse, NetError,   // unknown: tempfail
};

constexpr bool proves_absence(DnsStatus s) noexcept {
    switch (s) {   // no default: -Wswitch flags a new kind
    case DnsStatus::NxDomain: case DnsStatus::NoData: return true;
    case DnsStatus::Answer: case DnsStatus::ServFail: case DnsStatus::Refused:
    case DnsStatus::Timeout: case DnsStatus::BadResponse: case DnsStatus::NetError: return false;
    }
    return false;
}
constexpr bool is_unknown(DnsStatus s) noexcept { return s != DnsStatus::Answer && !proves_absence(s); }

// "ANSWER", "NXDOMAIN", "NODATA", "SERVFAIL", "REFUSED", "TIMEOUT", "BADRESPONSE", "NETERROR"
std::string_view to_string(DnsStatus s) noexcept;

enum class RrType : std::uint16_t { A = 1, Ns = 2, Cname = 5, Soa = 6, Ptr = 12, Mx = 15, Txt = 16, Aaaa = 28 };
std::string_view to_string(RrType t) noexcept;   // "A", "PTR", ...

struct MxRecord {
    std::uint16_t preference = 0;
    std::string exchange;   // presentation form, no trailing dot; "" for the RFC 7505 null MX "."
    friend bool operator==(const MxRecord&, const MxRecord&) = default;
};

struct DnsResult {
    DnsStatus status = DnsStatus::Timeout;   // only a validated reply changes it
    std::string name;                        // the question, as asked (no trailing dot)
    RrType type = RrType::A;

    // Filled for Answer, by type. Names are in presentation form without the trailing
    // dot, with ldns's escapes (\DDD, \.) for bytes that are not plain: a name holding
    // a backslash is never a valid host name.
    std::vector<util::IpAddress> addresses;  // A, AAAA
    std::vector<std::string> names;          // PTR targets (also NS, CNAME when asked)
    std::vector<MxRecord> mx;                // MX
    std::vector<std::string> cname_chain;    // CNAMEs followed inside the answer, in order
    std::vector<std::string> records;        // each answer RR in presentation form (evidence)

    std::uint32_t ttl = 0;                   // seconds: min TTL of the answer (or the negative TTL)
    std::string server;                      // "127.0.0.1:53", "[::1]:53"; "" when none was asked
    std::chrono::microseconds elapsed{0};    // from the question to its end
    bool from_cache = false;
};

class Resolver;

// A caller's interest in one question. Destroying it unsubscribes: the callback will
// not run. The question itself goes on and its answer still fills the cache.
class Ticket {
public:
    Ticket() = default;
    Ticket(Resolver* owner, std::uint64_t id) noexcept : owner_(owner), id_(id) {}
    Ticket(Ticket&& other) noexcept : owner_(other.owner_), id_(other.id_) { other.owner_ = nullptr; }
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { reset(); }
    void reset() noexcept;
    explicit operator bool() const noexcept { return owner_ != nullptr; }

private:
    Resolver* owner_ = nullptr;
    std::uint64_t id_ = 0;
};

class Resolver {
public:
    using Callback = std::function<void(const DnsResult&)>;
    virtual ~Resolver() = default;

    // Ask `name` (absolute; a trailing dot is optional) for `type`. `callback` runs exactly
    // once, later, from the event loop -- never from inside lookup(), not even for a
    // cache hit -- unless the returned Ticket is destroyed first.
    virtual Ticket lookup(std::string_view name, RrType type, Callback callback) = 0;

protected:
    friend class Ticket;
    virtual void cancel(std::uint64_t id) noexcept = 0;
};

inline Ticket& Ticket::operator=(Ticket&& other) noexcept {
    if (this != &other) {
        reset();
        owner_ = other.owner_;
        id_ = other.id_;
        other.owner_ = nullptr;
    }
    return *this;
}

inline void Ticket::reset() noexcept {
    if (owner_ != nullptr) owner_->cancel(id_);
    owner_ = nullptr;
}

}  // namespace rpd::dns
