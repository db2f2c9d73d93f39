// Unit tests for lib/dns/wire: questions, the query packet, reply matching and what a
// reply means. No network: replies are built with ldns from zone-file text.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "dns/nameservers.hpp"
#include "dns/wire.hpp"
#include "support/dns_packets.hpp"

using namespace rpd;
using dns::DnsStatus;
using dns::RrType;
using test::ReplySpec;

namespace {

dns::Question question(const std::string& name, RrType type) {
    auto q = dns::make_question(name, type);
    REQUIRE(q);
    return std::move(*q);
}

dns::DnsResult interpret(const ReplySpec& spec) {
    auto pkt = test::make_packet(spec);
    return dns::interpret(*pkt, question(spec.qname, static_cast<RrType>(spec.qtype)));
}

}  // namespace

TEST_CASE("dns wire: questions from names", "[dns][wire]") {
    struct Case { const char* label; std::string name; bool ok; const char* text; };
    const Case cases[] = {
        {"relative", "host.example.test", true, "host.example.test"},
        {"absolute", "host.example.test.", true, "host.example.test"},
        {"root", ".", true, ""},
        {"empty is root", "", true, ""},
        {"escaped dot stays", "a\\.b.example.test", true, "a\\.b.example.test"},
        {"escaped dot at end", "a\\.", true, "a\\."},
        {"escaped backslash then dot", "a\\\\.", true, "a\\\\"},
        {"empty label", "a..example.test", false, ""},
        {"two dots", "..", false, ""},
        {"trailing two dots", "a..", false, ""},
        {"leading dot", ".a", false, ""},
        {"label of 64", std::string(64, 'a') + ".test", false, ""},
        {"label of 63", std::string(63, 'a') + ".test", true, nullptr},
        {"name over 255", [] { std::string s; for (int i = 0; i < 60; ++i) s += "abcd."; return s; }(), false, ""},
        {"NUL byte", std::string("a\0b.test", 8), false, ""},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        auto q = dns::make_question(c.name, RrType::A);
        CHECK(q.has_value() == c.ok);
        if (q && c.text != nullptr) CHECK(q->text == c.text);
    }
}

TEST_CASE("dns wire: the cache key folds case and keeps the type apart", "[dns][wire]") {
    CHECK(dns::question_key(question("Host.EXAMPLE.test.", RrType::A)) ==
          dns::question_key(question("host.example.test", RrType::A)));
    CHECK(dns::question_key(question("host.example.test", RrType::A)) !=
          dns::question_key(question("host.example.test", RrType::Aaaa)));
    CHECK(dns::question_key(question("a.example.test", RrType::A)) !=
          dns::question_key(question("b.example.test", RrType::A)));
}

TEST_CASE("dns wire: the query asks once, recursively, with EDNS0 1232 and DO clear", "[dns][wire]") {
    const auto q = question("host.example.test", RrType::Mx);
    const auto wire = dns::build_query(q, 0xbeef);
    REQUIRE(wire.size() > 12);
    CHECK(wire[0] == 0xbe);
    CHECK(wire[1] == 0xef);
    CHECK(((wire[10] << 8) | wire[11]) == 1);   // ARCOUNT: the OPT record is really there
    // The OPT RR is the last 11 octets: root name, TYPE 41, CLASS = UDP size, TTL, RDLEN 0.
    const std::size_t opt = wire.size() - 11;
    CHECK(wire[opt] == 0);
    CHECK(((wire[opt + 1] << 8) | wire[opt + 2]) == 41);
    CHECK(((wire[opt + 3] << 8) | wire[opt + 4]) == 1232);
    CHECK(((wire[opt + 7] << 8) | wire[opt + 8]) == 0);   // DO bit and Z clear

    auto pkt = dns::decode(wire);
    REQUIRE(pkt);
    CHECK(ldns_pkt_id(pkt.get()) == 0xbeef);
    CHECK_FALSE(ldns_pkt_qr(pkt.get()));
    CHECK(ldns_pkt_rd(pkt.get()));
    CHECK(ldns_pkt_qdcount(pkt.get()) == 1);
    CHECK(ldns_pkt_edns(pkt.get()));
    CHECK(ldns_pkt_edns_udp_size(pkt.get()) == 1232);
    CHECK_FALSE(ldns_pkt_edns_do(pkt.get()));
    const ldns_rr* qrr = ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0);
    CHECK(ldns_rr_get_type(qrr) == LDNS_RR_TYPE_MX);
    CHECK(ldns_rr_get_class(qrr) == LDNS_RR_CLASS_IN);
    CHECK(dns::name_to_text(*ldns_rr_owner(qrr)) == "host.example.test");
}

namespace {

// The IPv6 reverse name of 2001:db8::2a: 32 nibble labels plus "ip6" and "arpa".
const std::string ip6_ptr_name = "a.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";

// What ldns_pkt2wire (which compresses names) makes of the same query: the reference.
std::vector<std::uint8_t> ldns_compressed_query(const dns::Question& q, std::uint16_t id) {
    ldns_pkt* pkt = ldns_pkt_query_new(ldns_rdf_clone(q.name.get()), static_cast<ldns_rr_type>(q.type),
                                       LDNS_RR_CLASS_IN, LDNS_RD);
    REQUIRE(pkt != nullptr);
    dns::PacketPtr owned(pkt);
    ldns_pkt_set_id(pkt, id);
    ldns_pkt_set_edns_udp_size(pkt, 1232);
    ldns_pkt_set_edns_do(pkt, false);
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&raw, pkt, &size) == LDNS_STATUS_OK);
    std::vector<std::uint8_t> out(raw, raw + size);
    std::free(raw);
    return out;
}

}  // namespace

TEST_CASE("dns wire: a 34-label ip6.arpa query reads back as the same question with EDNS0 1232", "[dns][wire]") {
    const auto q = question(ip6_ptr_name, RrType::Ptr);
    const auto wire = dns::build_query(q, 0x1234);
    // Header, the name uncompressed (34 labels: 32 of one octet, "ip6", "arpa", the root),
    // QTYPE and QCLASS, then the 11-octet OPT record.
    CHECK(wire.size() == 12 + (32 * 2 + 4 + 5 + 1) + 4 + 11);

    ldns_pkt* raw = nullptr;
    REQUIRE(ldns_wire2pkt(&raw, wire.data(), wire.size()) == LDNS_STATUS_OK);
    dns::PacketPtr pkt(raw);
    CHECK(ldns_pkt_id(raw) == 0x1234);
    CHECK_FALSE(ldns_pkt_qr(raw));
    CHECK(ldns_pkt_rd(raw));
    CHECK(ldns_pkt_get_opcode(raw) == LDNS_PACKET_QUERY);
    CHECK(ldns_pkt_qdcount(raw) == 1);
    CHECK(ldns_pkt_ancount(raw) == 0);
    CHECK(ldns_pkt_nscount(raw) == 0);
    CHECK(ldns_pkt_edns(raw));
    CHECK(ldns_pkt_edns_udp_size(raw) == 1232);
    CHECK_FALSE(ldns_pkt_edns_do(raw));
    CHECK(ldns_pkt_edns_version(raw) == 0);
    const ldns_rr* qrr = ldns_rr_list_rr(ldns_pkt_question(raw), 0);
    REQUIRE(qrr != nullptr);
    CHECK(ldns_rr_get_type(qrr) == LDNS_RR_TYPE_PTR);
    CHECK(ldns_rr_get_class(qrr) == LDNS_RR_CLASS_IN);
    CHECK(ldns_dname_label_count(ldns_rr_owner(qrr)) == 34);
    CHECK(ldns_dname_compare(ldns_rr_owner(qrr), q.name.get()) == 0);
    CHECK(dns::name_to_text(*ldns_rr_owner(qrr)) == ip6_ptr_name);
}

TEST_CASE("dns wire: the query is byte for byte what ldns_pkt2wire makes of it", "[dns][wire]") {
    // One name in a query: compression has nothing to point back to, so the compressing
    // writer and ours must agree exactly.
    struct Case { const char* label; std::string name; RrType type; std::uint16_t id; };
    const Case cases[] = {
        {"root", ".", RrType::Ns, 0},
        {"short name", "example.test", RrType::Mx, 1},
        {"upper case kept as asked", "Host.EXAMPLE.test.", RrType::A, 0xffff},
        {"ip6.arpa, 34 labels", ip6_ptr_name, RrType::Ptr, 0x8001},
        {"in-addr.arpa", "28.2.0.192.in-addr.arpa", RrType::Ptr, 0x00ff},
        {"escaped bytes", "a\\.b.sp\\032ace.\\255.example.test", RrType::Txt, 77},
        {"63-octet label", std::string(63, 'x') + ".example.test", RrType::Aaaa, 4242},
        {"repeated labels", "test.test.test.example.test", RrType::Soa, 9},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        const auto q = question(c.name, c.type);
        CHECK(dns::build_query(q, c.id) == ldns_compressed_query(q, c.id));
    }
}

TEST_CASE("dns wire: a reply is ours only with our ID and our question", "[dns][wire]") {
    const auto q = question("host.example.test", RrType::A);
    struct Case { const char* label; ReplySpec spec; dns::ReplyMatch want; };
    const Case cases[] = {
        {"ours", {.qname = "host.example.test", .qtype = LDNS_RR_TYPE_A, .id = 7}, dns::ReplyMatch::Ours},
        {"name case differs (0x20)", {.qname = "HoSt.Example.TEST", .qtype = LDNS_RR_TYPE_A, .id = 7},
         dns::ReplyMatch::Ours},
        {"wrong id", {.qname = "host.example.test", .qtype = LDNS_RR_TYPE_A, .id = 8}, dns::ReplyMatch::WrongId},
        {"other name", {.qname = "other.example.test", .qtype = LDNS_RR_TYPE_A, .id = 7},
         dns::ReplyMatch::WrongQuestion},
        {"other type", {.qname = "host.example.test", .qtype = LDNS_RR_TYPE_AAAA, .id = 7},
         dns::ReplyMatch::WrongQuestion},
        {"a query, not a reply", {.qname = "host.example.test", .qtype = LDNS_RR_TYPE_A, .id = 7, .qr = false},
         dns::ReplyMatch::NotAResponse},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        auto pkt = test::make_packet(c.spec);
        CHECK(dns::match_reply(*pkt, 7, q) == c.want);
    }
    SECTION("no question at all") {
        auto pkt = test::make_packet({.qname = "host.example.test", .id = 7});
        ldns_rr_list_deep_free(ldns_pkt_question(pkt.get()));
        ldns_pkt_set_question(pkt.get(), ldns_rr_list_new());
        ldns_pkt_set_qdcount(pkt.get(), 0);
        CHECK(dns::match_reply(*pkt, 7, q) == dns::ReplyMatch::WrongQuestion);
    }
}

TEST_CASE("dns wire: a reply's name matches as ldns_dname_compare says, case folded", "[dns][wire]") {
    std::string upper = ip6_ptr_name;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    struct Case { const char* label; std::string asked; std::string replied; bool same; };
    const Case cases[] = {
        {"34 labels, same", ip6_ptr_name, ip6_ptr_name, true},
        {"34 labels, other case", ip6_ptr_name, upper, true},
        {"34 labels, last nibble differs", ip6_ptr_name, "b" + ip6_ptr_name.substr(1), false},
        {"34 labels, the arpa label differs", ip6_ptr_name, ip6_ptr_name.substr(0, ip6_ptr_name.size() - 1) + "b", false},
        {"one label fewer", ip6_ptr_name, ip6_ptr_name.substr(2), false},
        {"label boundaries differ, same letters", "ab.c.example.test", "a.bc.example.test", false},
        {"'[' is not '{' (only letters fold)", "\\091.example.test", "\\123.example.test", false},
        {"'@' is not '`'", "\\064.example.test", "\\096.example.test", false},
        {"Z folds to z", "Z.example.test", "z.example.test", true},
        {"bytes above 127 compare as they are", "\\200.example.test", "\\200.EXAMPLE.test", true},
        {"\\200 is not \\232", "\\200.example.test", "\\232.example.test", false},
        {"root", ".", ".", true},
        {"root against a name", ".", "test", false},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        const auto asked = question(c.asked, RrType::Ptr);
        const auto replied = question(c.replied, RrType::Ptr);
        CHECK((ldns_dname_compare(asked.name.get(), replied.name.get()) == 0) == c.same);   // the oracle
        auto pkt = test::make_packet({.qname = c.replied, .qtype = LDNS_RR_TYPE_PTR, .id = 3});
        CHECK((dns::match_reply(*pkt, 3, asked) == dns::ReplyMatch::Ours) == c.same);
    }
}

TEST_CASE("dns wire: records and names read as ldns_rr2str and ldns_rdf2str write them", "[dns][wire]") {
    // Every octet value in a PTR target label: the text must be ldns's, escapes included.
    auto c_string = [](char* text) {
        REQUIRE(text != nullptr);
        std::string out(text);
        std::free(text);
        return out;
    };
    const std::string owner = "28.2.0.192.in-addr.arpa.";
    for (int octet = 1; octet < 256; ++octet) {
        INFO("octet " << octet);
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\%03d", octet);
        const std::string target = std::string("a") + escaped + "b.example.test.";
        auto pkt = test::make_packet({.qname = "28.2.0.192.in-addr.arpa", .qtype = LDNS_RR_TYPE_PTR,
                                      .answer = {owner + " 300 IN PTR " + target}});
        const ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(pkt.get()), 0);
        std::string want_record = c_string(ldns_rr2str(rr));
        while (!want_record.empty() && want_record.back() == '\n') want_record.pop_back();
        std::replace(want_record.begin(), want_record.end(), '\t', ' ');
        std::string want_name = c_string(ldns_rdf2str(ldns_rr_rdf(rr, 0)));
        REQUIRE(want_name.back() == '.');
        want_name.pop_back();

        const auto r = dns::interpret(*pkt, question("28.2.0.192.in-addr.arpa", RrType::Ptr));
        CHECK(r.status == DnsStatus::Answer);
        CHECK(r.records == std::vector<std::string>{want_record});
        CHECK(r.names == std::vector<std::string>{want_name});
        CHECK(dns::name_to_text(*ldns_rr_rdf(rr, 0)) == want_name);
    }
    SECTION("other types, several records, one reply") {
        const std::vector<std::string> answer = {
            "host.example.test. 300 IN CNAME alias\\.dot.example.test.",
            "alias\\.dot.example.test. 60 IN TXT \"quoted \\\"text\\\"\" \"tab\\009here\"",
            "alias\\.dot.example.test. 60 IN MX 10 .",
            "alias\\.dot.example.test. 60 IN SOA ns.example.test. hostmaster.example.test. 1 2 3 4 5",
            std::string("alias\\.dot.example.test. 60 IN PTR ") + std::string(63, 'y') + ".example.test.",
        };
        auto pkt = test::make_packet({.qname = "host.example.test", .qtype = LDNS_RR_TYPE_MX, .answer = answer});
        std::vector<std::string> want;
        const ldns_rr_list* list = ldns_pkt_answer(pkt.get());
        for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
            std::string text = c_string(ldns_rr2str(ldns_rr_list_rr(list, i)));
            while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
            std::replace(text.begin(), text.end(), '\t', ' ');
            want.push_back(text);
        }
        const auto r = dns::interpret(*pkt, question("host.example.test", RrType::Mx));
        CHECK(r.status == DnsStatus::Answer);
        CHECK(r.records == want);
        CHECK(r.cname_chain == std::vector<std::string>{"alias\\.dot.example.test"});
        CHECK(r.mx == std::vector<dns::MxRecord>{{10, ""}});
    }
}

TEST_CASE("dns wire: answers by type", "[dns][wire]") {
    SECTION("A: every address, the smallest TTL, each record as text") {
        auto r = interpret({.qname = "host.example.test", .qtype = LDNS_RR_TYPE_A,
                            .answer = {"host.example.test. 300 IN A 192.0.2.10", "host.example.test. 60 IN A 192.0.2.11"}});
        CHECK(r.status == DnsStatus::Answer);
        CHECK(r.name == "host.example.test");
        REQUIRE(r.addresses.size() == 2);
        CHECK(r.addresses[0].to_string() == "192.0.2.10");
        CHECK(r.addresses[1].to_string() == "192.0.2.11");
        CHECK(r.ttl == 60);
        CHECK(r.records == std::vector<std::string>{"host.example.test. 300 IN A 192.0.2.10",
                                                    "host.example.test. 60 IN A 192.0.2.11"});
        CHECK(r.cname_chain.empty());
    }
    SECTION("AAAA") {
        auto r = interpret({.qname = "host.example.test", .qtype = LDNS_RR_TYPE_AAAA,
                            .answer = {"host.example.test. 300 IN AAAA 2001:db8::10"}});
        CHECK(r.status == DnsStatus::Answer);
        REQUIRE(r.addresses.size() == 1);
        CHECK(r.addresses[0].to_string() == "2001:db8::10");
        CHECK_FALSE(r.addresses[0].is_v4());
    }
    SECTION("MX, and the RFC 7505 null MX has an empty exchange") {
        auto r = interpret({.qname = "example.test", .qtype = LDNS_RR_TYPE_MX,
                            .answer = {"example.test. 300 IN MX 10 mail.example.test.", "example.test. 300 IN MX 0 ."}});
        CHECK(r.status == DnsStatus::Answer);
        CHECK(r.mx == std::vector<dns::MxRecord>{{10, "mail.example.test"}, {0, ""}});
    }
    SECTION("PTR names keep escapes for odd bytes") {
        auto r = interpret({.qname = "28.2.0.192.in-addr.arpa", .qtype = LDNS_RR_TYPE_PTR,
                            .answer = {"28.2.0.192.in-addr.arpa. 300 IN PTR bad\\010name.example.test.",
                                       "28.2.0.192.in-addr.arpa. 300 IN PTR a\\.b.example.test.",
                                       "28.2.0.192.in-addr.arpa. 300 IN PTR sp\\032ace.example.test."}});
        CHECK(r.status == DnsStatus::Answer);
        CHECK(r.names == std::vector<std::string>{"bad\\010name.example.test", "a\\.b.example.test",
                                                  "sp\\032ace.example.test"});
    }
    SECTION("records that are neither of the type nor on the chain are ignored") {
        auto r = interpret({.qname = "host.example.test", .qtype = LDNS_RR_TYPE_A,
                            .answer = {"other.example.test. 300 IN A 192.0.2.99", "host.example.test. 300 IN TXT \"x\""}});
        CHECK(r.status == DnsStatus::NoData);
        CHECK(r.addresses.empty());
        CHECK(r.records.size() == 2);
    }
    SECTION("a malformed A record (wrong rdata) is BadResponse") {
        auto pkt = test::make_packet({.qname = "host.example.test", .qtype = LDNS_RR_TYPE_A,
                                      .answer = {"host.example.test. 300 IN A 192.0.2.1"}});
        ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(pkt.get()), 0);
        ldns_rdf* bogus = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_INT16, "5");
        ldns_rdf_deep_free(ldns_rr_set_rdf(rr, bogus, 0));
        CHECK(dns::interpret(*pkt, question("host.example.test", RrType::A)).status == DnsStatus::BadResponse);
    }
}

TEST_CASE("dns wire: without record text the answer is the same, records empty", "[dns][wire]") {
    const test::ReplySpec specs[] = {
        {.qname = "alias.example.test", .qtype = LDNS_RR_TYPE_A,
         .answer = {"alias.example.test. 300 IN CNAME host.example.test.", "host.example.test. 60 IN A 192.0.2.10"}},
        {.qname = "example.test", .qtype = LDNS_RR_TYPE_MX, .answer = {"example.test. 300 IN MX 10 mail.example.test."}},
        {.qname = "28.2.0.192.in-addr.arpa", .qtype = LDNS_RR_TYPE_PTR,
         .answer = {"28.2.0.192.in-addr.arpa. 300 IN PTR host.example.test."}},
        {.qname = "nx.example.test", .qtype = LDNS_RR_TYPE_A, .rcode = LDNS_RCODE_NXDOMAIN,
         .authority = {test::soa_text("example.test", 300, 60)}},
    };
    for (const auto& spec : specs) {
        INFO(spec.qname);
        auto pkt = test::make_packet(spec);
        const auto q = question(spec.qname, static_cast<RrType>(spec.qtype));
        const auto with = dns::interpret(*pkt, q);
        const auto without = dns::interpret(*pkt, q, false);
        CHECK(with.records.size() == spec.answer.size());
        CHECK(without.records.empty());
        CHECK(without.status == with.status);
        CHECK(without.ttl == with.ttl);
        CHECK(without.addresses == with.addresses);
        CHECK(without.names == with.names);
        CHECK(without.mx == with.mx);
        CHECK(without.cname_chain == with.cname_chain);
    }
}

TEST_CASE("dns wire: CNAME chains", "[dns][wire]") {
    SECTION("followed in order; the TTL is the smallest along the way") {
        auto r = interpret({.qname = "alias1.example.test", .qtype = LDNS_RR_TYPE_A,
                            .answer = {"host.example.test. 300 IN A 192.0.2.10",   // order in the packet does not matter
                                       "alias1.example.test. 300 IN CNAME alias2.example.test.",
                                       "alias3.example.test. 30 IN CNAME host.example.test.",
                                       "alias2.example.test. 300 IN CNAME ALIAS3.example.test."}});
        CHECK(r.status == DnsStatus::Answer);
        CHECK(r.cname_chain == std::vector<std::string>{"alias2.example.test", "ALIAS3.example.test", "host.example.test"});
        REQUIRE(r.addresses.size() == 1);
        CHECK(r.ttl == 30);
        CHECK(r.records.size() == 4);
    }
    SECTION("RFC 2317 classless PTR") {
        auto r = interpret({.qname = "9.113.0.203.in-addr.arpa", .qtype = LDNS_RR_TYPE_PTR,
                            .answer = {"9.113.0.203.in-addr.arpa. 300 IN CNAME 9.0/25.113.0.203.in-addr.arpa.",
                                       "9.0/25.113.0.203.in-addr.arpa. 300 IN PTR classless.example.test."}});
        CHECK(r.status == DnsStatus::Answer);
        CHECK(r.cname_chain == std::vector<std::string>{"9.0/25.113.0.203.in-addr.arpa"});
        CHECK(r.names == std::vector<std::string>{"classless.example.test"});
    }
    SECTION("a CNAME to a name without the type is NODATA, the chain kept as evidence") {
        auto r = interpret({.qname = "alias.example.test", .qtype = LDNS_RR_TYPE_AAAA,
                            .answer = {"alias.example.test. 300 IN CNAME v4only.example.test."},
                            .authority = {test::soa_text("example.test", 300, 60)}});
        CHECK(r.status == DnsStatus::NoData);
        CHECK(r.cname_chain == std::vector<std::string>{"v4only.example.test"});
        CHECK(r.ttl == 60);
    }
    SECTION("asking for the CNAME itself does not follow it") {
        auto r = interpret({.qname = "alias.example.test", .qtype = LDNS_RR_TYPE_CNAME,
                            .answer = {"alias.example.test. 300 IN CNAME host.example.test."}});
        CHECK(r.status == DnsStatus::Answer);
        CHECK(r.names == std::vector<std::string>{"host.example.test"});
        CHECK(r.cname_chain.empty());
    }
    SECTION("a loop is BadResponse") {
        auto r = interpret({.qname = "loop1.example.test", .qtype = LDNS_RR_TYPE_A,
                            .answer = {"loop1.example.test. 300 IN CNAME loop2.example.test.",
                                       "loop2.example.test. 300 IN CNAME LOOP1.example.test."}});
        CHECK(r.status == DnsStatus::BadResponse);
        CHECK(r.addresses.empty());
    }
    SECTION("eight steps are followed, nine are too many") {
        auto chain = [](int steps) {
            ReplySpec spec{.qname = "c0.example.test", .qtype = LDNS_RR_TYPE_A};
            for (int i = 0; i < steps; ++i) {
                spec.answer.push_back("c" + std::to_string(i) + ".example.test. 300 IN CNAME c" + std::to_string(i + 1) +
                                      ".example.test.");
            }
            spec.answer.push_back("c" + std::to_string(steps) + ".example.test. 300 IN A 192.0.2.1");
            return spec;
        };
        auto eight = interpret(chain(8));
        CHECK(eight.status == DnsStatus::Answer);
        CHECK(eight.cname_chain.size() == 8);
        CHECK(interpret(chain(9)).status == DnsStatus::BadResponse);
    }
}

TEST_CASE("dns wire: rcodes and negative TTLs (RFC 2308)", "[dns][wire]") {
    struct Case { const char* label; ldns_pkt_rcode rcode; std::vector<std::string> authority; DnsStatus want;
                  std::uint32_t ttl; };
    const Case cases[] = {
        {"NXDOMAIN, SOA minimum smaller", LDNS_RCODE_NXDOMAIN, {test::soa_text("example.test", 300, 60)},
         DnsStatus::NxDomain, 60},
        {"NXDOMAIN, SOA TTL smaller", LDNS_RCODE_NXDOMAIN, {test::soa_text("example.test", 30, 3600)},
         DnsStatus::NxDomain, 30},
        {"NXDOMAIN without SOA", LDNS_RCODE_NXDOMAIN, {}, DnsStatus::NxDomain, 0},
        {"NODATA with SOA", LDNS_RCODE_NOERROR, {test::soa_text("example.test", 300, 120)}, DnsStatus::NoData, 120},
        {"NODATA without SOA", LDNS_RCODE_NOERROR, {}, DnsStatus::NoData, 0},
        {"SERVFAIL is not absence", LDNS_RCODE_SERVFAIL, {test::soa_text("example.test", 300, 60)},
         DnsStatus::ServFail, 0},
        {"REFUSED", LDNS_RCODE_REFUSED, {}, DnsStatus::Refused, 0},
        {"FORMERR", LDNS_RCODE_FORMERR, {}, DnsStatus::BadResponse, 0},
        {"NOTIMP", LDNS_RCODE_NOTIMPL, {}, DnsStatus::BadResponse, 0},
        {"YXDOMAIN", LDNS_RCODE_YXDOMAIN, {}, DnsStatus::BadResponse, 0},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        auto r = interpret({.qname = "nx.example.test", .qtype = LDNS_RR_TYPE_A, .rcode = c.rcode, .authority = c.authority});
        CHECK(r.status == c.want);
        CHECK(r.ttl == c.ttl);
        CHECK(r.addresses.empty());
    }
    SECTION("NXDOMAIN after a CNAME keeps the chain") {
        auto r = interpret({.qname = "dangling.example.test", .qtype = LDNS_RR_TYPE_A, .rcode = LDNS_RCODE_NXDOMAIN,
                            .answer = {"dangling.example.test. 300 IN CNAME nonexistent.example.test."},
                            .authority = {test::soa_text("example.test", 300, 60)}});
        CHECK(r.status == DnsStatus::NxDomain);
        CHECK(r.cname_chain == std::vector<std::string>{"nonexistent.example.test"});
        CHECK(r.ttl == 60);
    }
    SECTION("an answer with SERVFAIL does not count as an answer") {
        auto r = interpret({.qname = "host.example.test", .qtype = LDNS_RR_TYPE_A, .rcode = LDNS_RCODE_SERVFAIL,
                            .answer = {"host.example.test. 300 IN A 192.0.2.10"}});
        CHECK(r.status == DnsStatus::ServFail);
        CHECK(r.addresses.empty());
    }
}

TEST_CASE("dns wire: junk never crashes the decoder", "[dns][wire]") {
    const auto good = test::make_wire({.qname = "alias1.example.test", .qtype = LDNS_RR_TYPE_MX, .id = 1,
                                       .answer = {"alias1.example.test. 300 IN CNAME host.example.test.",
                                                  "host.example.test. 300 IN MX 10 mail.example.test."},
                                       .authority = {test::soa_text("example.test", 300, 60)}});
    const auto q = question("alias1.example.test", RrType::Mx);
    auto pkt = dns::decode(good);
    REQUIRE(pkt);
    CHECK(dns::interpret(*pkt, q).status == DnsStatus::Answer);

    std::size_t decoded = 0;
    for (std::size_t len = 0; len < good.size(); ++len) {   // every truncation
        auto p = dns::decode(std::span(good.data(), len));
        if (p) {
            ++decoded;
            (void)dns::match_reply(*p, 1, q);
            (void)dns::interpret(*p, q);
        }
    }
    CHECK(decoded < good.size());

    std::mt19937 rng(12345);   // fixed seed: the same junk every run
    for (int round = 0; round < 2000; ++round) {
        auto bytes = good;
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
        if (auto p = dns::decode(bytes)) {
            (void)dns::match_reply(*p, 1, q);
            (void)dns::interpret(*p, q);
        }
        std::vector<std::uint8_t> noise(rng() % 600);
        for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
        if (auto p = dns::decode(noise)) (void)dns::interpret(*p, q);
    }
}

TEST_CASE("dns nameservers: resolv.conf", "[dns][resolvconf]") {
    struct Case { const char* label; const char* text; std::vector<std::string> want; };
    const Case cases[] = {
        {"two servers, search and options ignored",
         "# generated\nsearch example.test\nnameserver 192.0.2.53\noptions ndots:5\nnameserver 2001:db8::53\ndomain x.test\n",
         {"192.0.2.53:53", "[2001:db8::53]:53"}},
        {"none: glibc's default", "search example.test\n", {"127.0.0.1:53"}},
        {"empty file", "", {"127.0.0.1:53"}},
        {"comments and junk", "; comment\nnameserver\nnameserver not-an-ip\n nameserver\t198.51.100.1 # trailing\n"
                              "nameserver fe80::1%eth0\nnameserver 198.51.100.2;x\n",
         {"198.51.100.1:53", "198.51.100.2:53"}},
        {"no final newline, CRLF", "nameserver 127.0.0.53\r\nnameserver 127.0.0.2", {"127.0.0.53:53", "127.0.0.2:53"}},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        std::vector<std::string> got;
        for (const auto& ns : dns::parse_resolv_conf(c.text)) got.push_back(ns.text);
        CHECK(got == c.want);
    }
    config::DnsConfig cfg;
    CHECK_FALSE(dns::effective_nameservers(cfg, "/nonexistent/resolv.conf").empty());
    cfg.nameservers.push_back({*util::IpAddress::parse("::1"), 5353, "[::1]:5353"});
    REQUIRE(dns::effective_nameservers(cfg, "/nonexistent").size() == 1);
    CHECK(dns::server_text(*util::IpAddress::parse("::1"), 5353) == "[::1]:5353");
}

TEST_CASE("dns nameservers: server addresses as written", "[dns][resolvconf]") {
    struct Case { const char* text; const char* want; };   // want = nullptr: refused
    const Case cases[] = {
        {"192.0.2.53", "192.0.2.53:53"},       {"192.0.2.53:5353", "192.0.2.53:5353"},
        {"2001:db8::53", "[2001:db8::53]:53"}, {"[2001:db8::53]", "[2001:db8::53]:53"},
        {"[::1]:5353", "[::1]:5353"},          {"::1", "[::1]:53"},
        {"", nullptr},                         {"ns.example.test", nullptr},
        {"192.0.2.53:", nullptr},              {"192.0.2.53:0", nullptr},
        {"192.0.2.53:65536", nullptr},         {"192.0.2.53:53x", nullptr},
        {"[::1", nullptr},                     {"[::1]x", nullptr},
        {"[::1]:", nullptr},                   {"[192.0.2.1]:53", nullptr},
        {"192.0.2.53:123456", nullptr},
    };
    for (const auto& c : cases) {
        INFO("text: '" << c.text << "'");
        auto ns = dns::parse_nameserver(c.text);
        REQUIRE(ns.has_value() == (c.want != nullptr));
        if (ns) CHECK(ns->text == c.want);
    }
}
