// t/support/dns_responder.hpp -- a scriptable DNS server on loopback that misbehaves on request.
//
// In: per question (name, type) a Plan -- answer these records, this rcode, after this
// delay, or drop, set TC, send garbage, send a wrong-ID or wrong-question reply or one
// from another port before the real one, close TCP mid-message. Out: replies over UDP
// and TCP on one port of 127.0.0.1 (or ::1), and a count of every query it saw.
//
// It runs its own libevent loop on its own thread, so a test drives the code under test
// on the main thread's loop. Delayed replies sit in one timer queue (no thread or
// timer per query): 10,000 questions answered after 200 ms cost 10,000 sendto() calls.
// Several UDP sockets share the port (SO_REUSEPORT, 4 MB buffers) so bursts are not
// lost. Questions without a Plan go to the default handler, else REFUSED.
// Not here: zone semantics (CNAME chasing, wildcards); a Plan says exactly what to send.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "dns/types.hpp"
#include "support/dns_packets.hpp"

namespace rpd::test {

// One query as the responder received it.
struct SeenQuery {
    std::string name;                  // as asked, without the trailing dot (case kept)
    std::uint16_t type = 0;
    std::uint16_t id = 0;
    bool tcp = false;
    std::uint16_t source_port = 0;
    bool edns = false;                 // an OPT record was present
    std::uint16_t edns_udp_size = 0;
    bool edns_do = false;
    bool rd = false;
};

// What to do with one query. The default Plan answers NOERROR with no records (NODATA).
struct Plan {
    ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
    std::vector<std::string> answer{};       // zone-file text: "host.example.test. 300 IN A 192.0.2.10"
    std::vector<std::string> authority{};
    std::vector<std::string> additional{};
    std::chrono::milliseconds delay{0};      // before anything is sent

    bool drop = false;                   // never reply
    bool garbage = false;                // reply with undecodable bytes (our ID, QR set) only
    bool garbage_first = false;          // undecodable bytes, then the reply
    bool wrong_id_first = false;         // the reply with another ID, then the real one
    bool other_question_first = false;   // a reply to another name (same ID), then the real one
    bool spoof_port_first = false;       // the reply from another source port, then the real one
    bool decoys_only = false;            // send what the *_first flags ask for, not the real reply
    bool truncate_udp = false;           // over UDP an empty reply with TC set; TCP gets everything
    bool tcp_close_mid_message = false;  // over TCP: the length and half the reply, then close
    bool tcp_close_silently = false;     // over TCP: read the query, close without a reply

    static Plan records(std::vector<std::string> rrs) {
        Plan p;
        p.answer = std::move(rrs);
        return p;
    }
    static Plan rcode_only(ldns_pkt_rcode rcode) {
        Plan p;
        p.rcode = rcode;
        return p;
    }
    // NXDOMAIN / NODATA with the zone's SOA (RFC 2308: negative TTL = min(ttl, minimum)).
    static Plan nxdomain(const std::string& zone, std::uint32_t ttl = 300, std::uint32_t minimum = 60) {
        Plan p;
        p.rcode = LDNS_RCODE_NXDOMAIN;
        p.authority.push_back(soa_text(zone, ttl, minimum));
        return p;
    }
    static Plan nodata(const std::string& zone, std::uint32_t ttl = 300, std::uint32_t minimum = 60) {
        Plan p;
        p.authority.push_back(soa_text(zone, ttl, minimum));
        return p;
    }
};

class DnsResponder {
public:
    using Handler = std::function<Plan(const SeenQuery&)>;

    struct Options {
        std::string address = "127.0.0.1";   // or "::1"
        int udp_sockets = 4;                  // sharing the port (SO_REUSEPORT)
        std::uint16_t port = 0;               // 0: a free port; else this one, or the constructor throws
        bool compress = true;                 // compress names in replies, as real servers do
                                              // (false: cheaper, for the benchmark responder)
        bool keep_log = true;                 // seen() and count(name, type); false: only the
                                              // totals (the benchmark keeps its own counts)
    };

    DnsResponder();
    explicit DnsResponder(Options options);
    ~DnsResponder();   // stops the thread; replies still pending are not sent
    DnsResponder(const DnsResponder&) = delete;
    DnsResponder& operator=(const DnsResponder&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    config::NameServer nameserver() const;   // for config::DnsConfig::nameservers

    // The plan for exactly this question (name compared without case and trailing dot).
    void set(const std::string& name, dns::RrType type, Plan plan);
    // For every question without its own plan. Runs on the responder's thread.
    void set_default(Handler handler);

    std::size_t count(const std::string& name, dns::RrType type) const;   // queries for it (UDP + TCP)
    std::size_t count_tcp(const std::string& name, dns::RrType type) const;
    std::size_t queries() const;          // all, UDP and TCP
    std::size_t tcp_queries() const;
    std::vector<SeenQuery> seen() const;  // every query, in arrival order
    void clear_counts();

private:
    struct Impl;   // the loop thread's state
    std::unique_ptr<Impl> impl_;
    std::uint16_t port_ = 0;
};

}  // namespace rpd::test
