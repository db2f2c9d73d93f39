#include "support/dns_packets.hpp"

#include <cstdlib>
#include <stdexcept>

namespace rpd::test {

using BufferPtr = util::CPtr<ldns_buffer, ldns_buffer_free>;

RrPtr parse_rr(const std::string& text) {
    ldns_rr* rr = nullptr;
    const ldns_status st = ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr);
    if (st != LDNS_STATUS_OK || rr == nullptr) {
        throw std::invalid_argument("bad RR in test: " + text + ": " + ldns_get_errorstr_by_id(st));
    }
    return RrPtr(rr);
}

namespace {

void add_section(ldns_pkt* pkt, ldns_pkt_section section, const std::vector<std::string>& rrs) {
    for (const auto& text : rrs) {
        RrPtr rr = parse_rr(text);
        if (!ldns_pkt_push_rr(pkt, section, rr.get())) throw std::invalid_argument("cannot add RR: " + text);
        rr.release();
    }
}

}  // namespace

dns::PacketPtr make_packet(const ReplySpec& spec) {
    auto q = dns::make_question(spec.qname, static_cast<dns::RrType>(spec.qtype));
    if (!q) throw std::invalid_argument("bad question name in test: " + spec.qname);
    dns::RdfPtr name(ldns_rdf_clone(q->name.get()));
    dns::PacketPtr pkt(ldns_pkt_query_new(name.release(), static_cast<ldns_rr_type>(spec.qtype), LDNS_RR_CLASS_IN, 0));
    if (!pkt) throw std::bad_alloc();
    ldns_pkt_set_id(pkt.get(), spec.id);
    ldns_pkt_set_qr(pkt.get(), spec.qr);
    ldns_pkt_set_tc(pkt.get(), spec.tc);
    ldns_pkt_set_aa(pkt.get(), spec.aa);
    ldns_pkt_set_rd(pkt.get(), spec.rd);
    ldns_pkt_set_ra(pkt.get(), spec.ra);
    ldns_pkt_set_rcode(pkt.get(), static_cast<std::uint8_t>(spec.rcode));
    add_section(pkt.get(), LDNS_SECTION_ANSWER, spec.answer);
    add_section(pkt.get(), LDNS_SECTION_AUTHORITY, spec.authority);
    add_section(pkt.get(), LDNS_SECTION_ADDITIONAL, spec.additional);
    if (spec.edns_udp_size != 0) ldns_pkt_set_edns_udp_size(pkt.get(), spec.edns_udp_size);
    return pkt;
}

std::vector<std::uint8_t> to_wire(const ldns_pkt& pkt, bool compress) {
    if (!compress) {
        // With no compression tree ldns writes every name in full (ldns 1.8 host2wire.c).
        BufferPtr buf(ldns_buffer_new(LDNS_MIN_BUFLEN));
        if (!buf || ldns_pkt2buffer_wire_compress(buf.get(), &pkt, nullptr) != LDNS_STATUS_OK ||
            !ldns_buffer_status_ok(buf.get())) {
            throw std::invalid_argument("ldns_pkt2buffer_wire_compress failed");
        }
        const auto* begin = static_cast<const std::uint8_t*>(ldns_buffer_begin(buf.get()));
        return std::vector<std::uint8_t>(begin, begin + ldns_buffer_position(buf.get()));
    }
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&raw, &pkt, &size) != LDNS_STATUS_OK) {
        std::free(raw);
        throw std::invalid_argument("ldns_pkt2wire failed");
    }
    std::vector<std::uint8_t> out(raw, raw + size);
    std::free(raw);
    return out;
}

std::vector<std::uint8_t> make_wire(const ReplySpec& spec, bool compress) { return to_wire(*make_packet(spec), compress); }

std::string soa_text(const std::string& zone, std::uint32_t ttl, std::uint32_t minimum) {
    return zone + ". " + std::to_string(ttl) + " IN SOA ns." + zone + ". hostmaster." + zone +
           ". 2024010101 3600 600 86400 " + std::to_string(minimum);
}

}  // namespace rpd::test
