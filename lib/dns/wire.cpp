#include "dns/wire.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace rpd::dns {

namespace {

using BufferPtr = util::CPtr<ldns_buffer, ldns_buffer_free>;

// True if the last '.' separates labels, i.e. is not escaped: "a." and "a\\." (a label
// ending in a backslash) yes, "a\." (a label ending in a dot) no.
bool ends_in_root_dot(std::string_view text) noexcept {
    if (text.empty() || text.back() != '.') return false;
    std::size_t backslashes = 0;
    for (std::size_t i = text.size() - 1; i > 0 && text[i - 1] == '\\'; --i) ++backslashes;
    return backslashes % 2 == 0;
}

ldns_rr_type to_ldns(RrType t) noexcept { return static_cast<ldns_rr_type>(static_cast<std::uint16_t>(t)); }

constexpr std::uint8_t fold_ascii(std::uint8_t c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c - 'A' + 'a') : c;
}

// Equal names, ASCII case folded (RFC 4343), so "HOST.example.test" matches. Not
// ldns_dname_compare: it finds every label again from the start of the name, O(labels^2)
// on a 34-label ip6.arpa name. Both are uncompressed wire names (ldns decompresses on
// reading); length octets are below 64 and so never letters, so equal bytes after
// folding mean equal label lengths and equal labels.
bool same_name(const ldns_rdf* a, const ldns_rdf* b) noexcept {
    if (a == nullptr || b == nullptr || ldns_rdf_get_type(a) != LDNS_RDF_TYPE_DNAME ||
        ldns_rdf_get_type(b) != LDNS_RDF_TYPE_DNAME || ldns_rdf_size(a) != ldns_rdf_size(b)) {
        return false;
    }
    const std::uint8_t* x = ldns_rdf_data(a);
    const std::uint8_t* y = ldns_rdf_data(b);
    for (std::size_t i = 0; i < ldns_rdf_size(a); ++i) {
        if (fold_ascii(x[i]) != fold_ascii(y[i])) return false;
    }
    return true;
}

// One ldns_buffer for the presentation forms of one reply. ldns_rr2str and ldns_rdf2str
// each allocate a 64 KiB buffer (LDNS_MAX_PACKETLEN) and shrink it to the string: two
// large malloc/realloc/free rounds per record, most of interpret()'s time. The text is
// the same: those functions write through ldns_rr2buffer_str / ldns_rdf2buffer_str too.
class TextBuffer {
public:
    // Presentation form of one RR (ldns_rr2str's text), or "" if ldns cannot write it.
    std::string rr(const ldns_rr* rr) {
        if (!reset()) return {};
        if (ldns_rr2buffer_str(buf_.get(), rr) != LDNS_STATUS_OK) return failed();
        return take();
    }
    // Presentation form of one rdata field (ldns_rdf2str's text), or "".
    std::string rdf(const ldns_rdf* rdf) {
        if (!reset()) return {};
        if (ldns_rdf2buffer_str(buf_.get(), rdf) != LDNS_STATUS_OK) return failed();
        return take();
    }

private:
    // ldns keeps a buffer's error status for good: after a failure start a new buffer.
    bool reset() {
        if (buf_ && !ldns_buffer_status_ok(buf_.get())) buf_.reset();
        if (!buf_) buf_.reset(ldns_buffer_new(256));
        if (!buf_) return false;
        ldns_buffer_clear(buf_.get());
        return true;
    }
    std::string failed() {
        buf_.reset();
        return {};
    }
    // As far as the first NUL, as the C string ldns_rr2str returns would be (ldns escapes
    // odd bytes, so there is none in practice).
    std::string take() const {
        const auto* begin = reinterpret_cast<const char*>(ldns_buffer_begin(buf_.get()));
        return std::string(begin, ::strnlen(begin, ldns_buffer_position(buf_.get())));
    }
    BufferPtr buf_;
};

// One answer RR in presentation form on one line, fields separated by single spaces
// (ldns uses tabs, which a log line would show as escapes).
std::string rr_to_text(TextBuffer& text, const ldns_rr* rr) {
    std::string out = text.rr(rr);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    std::replace(out.begin(), out.end(), '\t', ' ');
    return out;
}

// An absolute name's presentation form always ends in the root's dot ("." alone for the
// root); an escaped dot inside a label is "\." and never the last one.
std::string name_to_text(TextBuffer& text, const ldns_rdf& dname) {
    std::string out = text.rdf(&dname);
    if (ends_in_root_dot(out)) out.pop_back();
    return out;
}

const ldns_rdf* rdata(const ldns_rr* rr, std::size_t i, ldns_rdf_type want) noexcept {
    if (ldns_rr_rd_count(rr) <= i) return nullptr;
    const ldns_rdf* f = ldns_rr_rdf(rr, i);
    if (f == nullptr || ldns_rdf_get_type(f) != want) return nullptr;
    return f;
}

// RFC 2308 section 5: the negative TTL is the smaller of the SOA's own TTL and its
// MINIMUM field. 0 (do not cache) when the server sent no SOA.
std::uint32_t negative_ttl(const ldns_pkt& reply) {
    const ldns_rr_list* authority = ldns_pkt_authority(&reply);
    for (std::size_t i = 0; authority != nullptr && i < ldns_rr_list_rr_count(authority); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(authority, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) continue;
        const ldns_rdf* minimum = rdata(rr, 6, LDNS_RDF_TYPE_INT32);
        if (minimum == nullptr) minimum = rdata(rr, 6, LDNS_RDF_TYPE_PERIOD);
        if (minimum == nullptr || ldns_rdf_size(minimum) != 4) return 0;
        return std::min(ldns_rr_ttl(rr), ldns_rdf2native_int32(minimum));
    }
    return 0;
}

// Fills the typed fields from one RR of the asked type. False if its rdata is not what
// the type promises (a broken packet).
bool take_record(TextBuffer& text, const ldns_rr* rr, RrType type, DnsResult& out) {
    switch (type) {
    case RrType::A: {
        const ldns_rdf* f = rdata(rr, 0, LDNS_RDF_TYPE_A);
        if (f == nullptr || ldns_rdf_size(f) != 4) return false;
        std::array<std::uint8_t, 4> b{};
        std::memcpy(b.data(), ldns_rdf_data(f), b.size());
        out.addresses.push_back(util::IpAddress::v4(b));
        return true;
    }
    case RrType::Aaaa: {
        const ldns_rdf* f = rdata(rr, 0, LDNS_RDF_TYPE_AAAA);
        if (f == nullptr || ldns_rdf_size(f) != 16) return false;
        std::array<std::uint8_t, 16> b{};
        std::memcpy(b.data(), ldns_rdf_data(f), b.size());
        out.addresses.push_back(util::IpAddress::v6(b));
        return true;
    }
    case RrType::Ptr: case RrType::Ns: case RrType::Cname: {
        const ldns_rdf* f = rdata(rr, 0, LDNS_RDF_TYPE_DNAME);
        if (f == nullptr) return false;
        out.names.push_back(name_to_text(text, *f));
        return true;
    }
    case RrType::Mx: {
        const ldns_rdf* pref = rdata(rr, 0, LDNS_RDF_TYPE_INT16);
        const ldns_rdf* exchange = rdata(rr, 1, LDNS_RDF_TYPE_DNAME);
        if (pref == nullptr || ldns_rdf_size(pref) != 2 || exchange == nullptr) return false;
        // RFC 7505: "MX 0 ." is the null MX; its exchange is the root, "" here.
        out.mx.push_back(MxRecord{ldns_rdf2native_int16(pref), name_to_text(text, *exchange)});
        return true;
    }
    case RrType::Soa: case RrType::Txt:
        return true;   // evidence in `records` only
    }
    return true;
}

}  // namespace

std::optional<Question> make_question(std::string_view name, RrType type) {
    std::string text(name == "." ? std::string_view{} : name);
    if (ends_in_root_dot(text)) {
        text.pop_back();
        if (text.empty() || ends_in_root_dot(text)) return std::nullopt;   // ".." or "a.."
    }
    if (text.find('\0') != std::string::npos) return std::nullopt;
    RdfPtr dname(ldns_dname_new_frm_str(text.empty() ? "." : text.c_str()));
    if (!dname) return std::nullopt;
    Question q;
    q.name = std::move(dname);
    q.type = type;
    q.text = std::move(text);
    return q;
}

std::string question_key(const Question& q) {
    std::string key(reinterpret_cast<const char*>(ldns_rdf_data(q.name.get())), ldns_rdf_size(q.name.get()));
    // Length octets are below 64 (0x40) and so never in 'A'..'Z' (0x41..0x5a): folding
    // every byte folds exactly the letters in the labels.
    for (char& c : key) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    const auto t = static_cast<std::uint16_t>(q.type);
    key.push_back(static_cast<char>(t >> 8));
    key.push_back(static_cast<char>(t & 0xff));
    return key;
}

std::vector<std::uint8_t> build_query(const Question& q, std::uint16_t id) {
    // ldns_pkt_query_new takes ownership of the name: hand it a clone.
    RdfPtr name(ldns_rdf_clone(q.name.get()));
    if (!name) return {};
    PacketPtr pkt(ldns_pkt_query_new(name.get(), to_ldns(q.type), LDNS_RR_CLASS_IN, LDNS_RD));
    if (!pkt) return {};
    name.release();
    ldns_pkt_set_id(pkt.get(), id);
    // Setting a UDP size makes ldns_pkt_edns() true, so ldns appends the OPT RR.
    ldns_pkt_set_edns_udp_size(pkt.get(), edns_udp_size);
    ldns_pkt_set_edns_do(pkt.get(), false);
    // Not ldns_pkt2wire: it compresses names through a red-black tree keyed by whole
    // names, each comparison counting labels again, so a 34-label ip6.arpa question cost
    // O(labels^2) (about 185 us, 2026-11-23). A query holds one name (the OPT owner is
    // the root), so compression never shortens it; with no tree ldns writes every name
    // as it is (ldns 1.8 host2wire.c: "If no tree, just add the data"), the same bytes.
    BufferPtr buf(ldns_buffer_new(LDNS_MIN_BUFLEN));
    if (!buf) return {};
    if (ldns_pkt2buffer_wire_compress(buf.get(), pkt.get(), nullptr) != LDNS_STATUS_OK ||
        !ldns_buffer_status_ok(buf.get())) {
        return {};
    }
    const auto* begin = static_cast<const std::uint8_t*>(ldns_buffer_begin(buf.get()));
    return std::vector<std::uint8_t>(begin, begin + ldns_buffer_position(buf.get()));
}

PacketPtr decode(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < LDNS_HEADER_SIZE) return nullptr;
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, bytes.data(), bytes.size()) != LDNS_STATUS_OK) {
        if (raw != nullptr) ldns_pkt_free(raw);
        return nullptr;
    }
    return PacketPtr(raw);
}

ReplyMatch match_reply(const ldns_pkt& reply, std::uint16_t id, const Question& q) {
    if (!ldns_pkt_qr(&reply) || ldns_pkt_get_opcode(&reply) != LDNS_PACKET_QUERY) return ReplyMatch::NotAResponse;
    if (ldns_pkt_id(&reply) != id) return ReplyMatch::WrongId;
    const ldns_rr_list* question = ldns_pkt_question(&reply);
    if (question == nullptr || ldns_rr_list_rr_count(question) != 1) return ReplyMatch::WrongQuestion;
    const ldns_rr* rr = ldns_rr_list_rr(question, 0);
    if (ldns_rr_get_type(rr) != to_ldns(q.type) || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
        !same_name(ldns_rr_owner(rr), q.name.get())) {
        return ReplyMatch::WrongQuestion;
    }
    return ReplyMatch::Ours;
}

std::string_view to_string(ReplyMatch m) noexcept {
    switch (m) {
    case ReplyMatch::Ours: return "ours";
    case ReplyMatch::NotAResponse: return "not a response";
    case ReplyMatch::WrongId: return "wrong id";
    case ReplyMatch::WrongQuestion: return "wrong question";
    }
    return "?";
}

DnsResult interpret(const ldns_pkt& reply, const Question& q, bool record_text) {
    DnsResult out;
    out.name = q.text;
    out.type = q.type;

    const ldns_rr_list* answer = ldns_pkt_answer(&reply);
    const std::size_t count = answer != nullptr ? ldns_rr_list_rr_count(answer) : 0;
    TextBuffer text;
    if (record_text) {
        out.records.reserve(count);
        for (std::size_t i = 0; i < count; ++i) out.records.push_back(rr_to_text(text, ldns_rr_list_rr(answer, i)));
    }

    // Walk from the question name through CNAMEs to the records of the asked type.
    // Records that are neither on the chain nor of the type are ignored (evidence only).
    const ldns_rdf* current = q.name.get();
    std::vector<const ldns_rdf*> visited{current};
    std::uint32_t ttl = std::numeric_limits<std::uint32_t>::max();
    bool found = false, broken = false;
    for (unsigned steps = 0;; ++steps) {
        for (std::size_t i = 0; i < count; ++i) {
            const ldns_rr* rr = ldns_rr_list_rr(answer, i);
            if (ldns_rr_get_type(rr) != to_ldns(q.type) || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
                !same_name(ldns_rr_owner(rr), current)) {
                continue;
            }
            if (!take_record(text, rr, q.type, out)) broken = true;
            ttl = std::min(ttl, ldns_rr_ttl(rr));
            found = true;
        }
        if (found || q.type == RrType::Cname) break;
        const ldns_rr* cname = nullptr;
        for (std::size_t i = 0; i < count && cname == nullptr; ++i) {
            const ldns_rr* rr = ldns_rr_list_rr(answer, i);
            if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
                same_name(ldns_rr_owner(rr), current)) {
                cname = rr;
            }
        }
        if (cname == nullptr) break;
        const ldns_rdf* target = rdata(cname, 0, LDNS_RDF_TYPE_DNAME);
        if (target == nullptr || steps >= max_cname_steps ||
            std::any_of(visited.begin(), visited.end(), [&](const ldns_rdf* v) { return same_name(v, target); })) {
            broken = true;   // unreadable, too long, or a loop
            break;
        }
        out.cname_chain.push_back(name_to_text(text, *target));
        ttl = std::min(ttl, ldns_rr_ttl(cname));
        visited.push_back(target);
        current = target;
    }

    const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(&reply);
    if (ldns_pkt_edns_extended_rcode(&reply) != 0) {
        out.status = DnsStatus::BadResponse;   // BADVERS and friends: not an answer we asked for
    } else if (rcode == LDNS_RCODE_NOERROR) {
        if (broken) {
            out.status = DnsStatus::BadResponse;
        } else if (found) {
            out.status = DnsStatus::Answer;
            out.ttl = ttl;
        } else {
            out.status = DnsStatus::NoData;
            out.ttl = negative_ttl(reply);
        }
    } else if (rcode == LDNS_RCODE_NXDOMAIN) {
        out.status = DnsStatus::NxDomain;
        out.ttl = negative_ttl(reply);
    } else if (rcode == LDNS_RCODE_SERVFAIL) {
        out.status = DnsStatus::ServFail;
    } else if (rcode == LDNS_RCODE_REFUSED) {
        out.status = DnsStatus::Refused;
    } else {
        out.status = DnsStatus::BadResponse;   // FORMERR, NOTIMP, YXDOMAIN...: never "absent"
    }
    if (out.status != DnsStatus::Answer) {
        out.addresses.clear();
        out.names.clear();
        out.mx.clear();
        if (out.status != DnsStatus::NxDomain && out.status != DnsStatus::NoData) out.ttl = 0;
    }
    return out;
}

std::string name_to_text(const ldns_rdf& dname) {
    TextBuffer text;
    return name_to_text(text, dname);
}

}  // namespace rpd::dns
