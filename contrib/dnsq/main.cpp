// contrib/dnsq -- rpd-dnsq: one DNS question through reverse-policyd's own resolver.
//
//   rpd-dnsq [-s SERVER[:PORT]] [-t TIMEOUT] [-v] NAME TYPE
//
// Prints the result kind (ANSWER, NXDOMAIN, NODATA, SERVFAIL, REFUSED, TIMEOUT,
// BADRESPONSE, NETERROR), each answer record, the CNAMEs followed, the TTL, the server
// and the time taken -- the evidence `reverse-policyd check` shows. -v also prints every
// step (queries, dropped replies, failed tries). Without -s the servers come from
// /etc/resolv.conf. Exit status: 0 answer, 2 proven absent (NXDOMAIN/NODATA), 3 could
// not find out, 1 usage error.
#include <event2/event.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include "dns/nameservers.hpp"
#include "dns/resolver.hpp"
#include "log/sanitize.hpp"
#include "util/cptr.hpp"
#include "util/duration.hpp"

namespace {

using namespace rpd;
using EventBasePtr = util::CPtr<event_base, event_base_free>;

constexpr const char* usage =
    "usage: rpd-dnsq [-s SERVER[:PORT]] [-t TIMEOUT] [-v] NAME TYPE\n"
    "  SERVER   192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53 (default: /etc/resolv.conf)\n"
    "  TIMEOUT  per try, e.g. 2s, 500ms (default 2s; 2 tries per server)\n"
    "  TYPE     A AAAA MX PTR TXT NS CNAME SOA\n"
    "  -v       print every query, dropped reply and failed try\n"
    "exit: 0 answer, 2 NXDOMAIN/NODATA, 3 temporary failure, 1 usage\n";

std::optional<dns::RrType> parse_type(std::string_view text) {
    for (const auto t : {dns::RrType::A, dns::RrType::Aaaa, dns::RrType::Mx, dns::RrType::Ptr, dns::RrType::Txt,
                         dns::RrType::Ns, dns::RrType::Cname, dns::RrType::Soa}) {
        const auto name = dns::to_string(t);
        if (text.size() == name.size() &&
            std::equal(text.begin(), text.end(), name.begin(),
                       [](char a, char b) { return (a >= 'a' && a <= 'z' ? a - 'a' + 'A' : a) == b; })) {
            return t;
        }
    }
    return std::nullopt;
}

std::string_view kind_name(dns::DebugEvent::Kind k) {
    switch (k) {
    case dns::DebugEvent::Kind::Query: return "query";
    case dns::DebugEvent::Kind::Dropped: return "dropped";
    case dns::DebugEvent::Kind::TryFailed: return "try failed";
    case dns::DebugEvent::Kind::Result: return "result";
    }
    return "?";
}

void print(const dns::DnsResult& r) {
    fmt::print("question: {} {}\n", log::sanitize(r.name.empty() ? "." : r.name), dns::to_string(r.type));
    fmt::print("result:   {}{}\n", dns::to_string(r.status), r.from_cache ? " (cache)" : "");
    for (const auto& c : r.cname_chain) fmt::print("cname:    {}\n", log::sanitize(c));
    for (const auto& rec : r.records) fmt::print("record:   {}\n", log::sanitize(rec, 1024));
    fmt::print("ttl:      {}\n", r.ttl);
    fmt::print("server:   {}\n", r.server.empty() ? "-" : r.server);
    fmt::print("time:     {:.3f} ms\n", static_cast<double>(r.elapsed.count()) / 1000.0);
}

}  // namespace

int main(int argc, char** argv) {
    config::DnsConfig cfg;
    cfg.attempts = 2;
    bool verbose = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; ++i) {
        const std::string_view opt = argv[i];
        if (opt == "-h" || opt == "--help") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (opt == "-v") {
            verbose = true;
        } else if ((opt == "-s" || opt == "-t") && i + 1 < argc) {
            const std::string_view value = argv[++i];
            if (opt == "-s") {
                auto ns = dns::parse_nameserver(value);
                if (!ns) {
                    std::fprintf(stderr, "rpd-dnsq: bad server: %s\n", argv[i]);
                    return 1;
                }
                cfg.nameservers.push_back(*ns);
            } else {
                auto d = util::parse_duration(value);
                if (!d || d->count() <= 0) {
                    std::fprintf(stderr, "rpd-dnsq: bad timeout: %s\n", argv[i]);
                    return 1;
                }
                cfg.timeout = *d;
            }
        } else {
            std::fputs(usage, stderr);
            return 1;
        }
    }
    if (argc - i != 2) {
        std::fputs(usage, stderr);
        return 1;
    }
    const std::string name = argv[i];
    const auto type = parse_type(argv[i + 1]);
    if (!type) {
        std::fprintf(stderr, "rpd-dnsq: unknown type: %s\n", argv[i + 1]);
        return 1;
    }

    EventBasePtr base(event_base_new());
    if (!base) {
        std::fputs("rpd-dnsq: cannot create the event loop\n", stderr);
        return 2;
    }
    dns::StubResolver resolver(base.get(), cfg);
    if (verbose) {
        resolver.set_debug([](const dns::DebugEvent& ev) {
            if (ev.kind == dns::DebugEvent::Kind::Result) return;   // printed in full below
            fmt::print(";; {} {} {} server={} transport={} id={}{}{}\n", kind_name(ev.kind),
                       log::sanitize(ev.name), dns::to_string(ev.type), ev.server, ev.transport, ev.id,
                       ev.detail.empty() ? "" : " ", log::sanitize(ev.detail));
        });
    }
    std::optional<dns::DnsResult> result;
    auto ticket = resolver.lookup(name, *type, [&](const dns::DnsResult& r) {
        result = r;
        event_base_loopbreak(base.get());
    });
    event_base_dispatch(base.get());
    if (!result) {
        std::fputs("rpd-dnsq: the question never ended (internal error)\n", stderr);
        return 3;
    }
    print(*result);
    if (result->status == dns::DnsStatus::Answer) return 0;
    return dns::proves_absence(result->status) ? 2 : 3;
}
