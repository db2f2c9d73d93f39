#include "dns/cache.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <utility>

namespace rpd::dns {

namespace {

std::chrono::seconds whole_seconds(util::Millis d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d);
}

// ---- An entry's packed form -------------------------------------------------------
//
//   varint key length, key
//   flags: status (bits 0-2), name spelt by the key (3), type in the key (4), lists follow (5)
//   [varint type]  [string name]  varint ttl  varint server (0: string follows; k: servers_[k-1])
//   [lists: mask (addresses 1, names 2, mx 4, cname_chain 8, records 16), then each present
//    list: varint count, items]
// A string is a varint length and its bytes; an address its length (4 or 16) and bytes; a
// name in a list may end in a reference to the question name (put_name); an MX is a varint
// preference and a name. A record is either 0 and the string, or 1 and a template
// of "OWNER TTL IN TYPE RDATA" whose owner and rdata refer to the fields it repeats: a record
// is only stored as a template when the template spells it back exactly (checked on insert).

constexpr unsigned status_bits = 0x07, name_in_key = 0x08, type_in_key = 0x10, has_lists = 0x20;
constexpr unsigned list_addresses = 0x01, list_names = 0x02, list_mx = 0x04, list_chain = 0x08,
                   list_records = 0x10;
static_assert(static_cast<unsigned>(DnsStatus::NetError) <= status_bits, "status does not fit its bits");

// Record types a template may name (index stored); others keep the record verbatim.
constexpr RrType template_types[] = {RrType::A, RrType::Ns, RrType::Cname, RrType::Soa,
                                     RrType::Ptr, RrType::Mx, RrType::Txt, RrType::Aaaa};

// What a template's rdata refers to; stored as index * rdata_kinds + kind.
enum RdataKind : unsigned { RdataInline, RdataAddress, RdataName, RdataChain, RdataMx, rdata_kinds };
enum OwnerRef : unsigned { OwnerInline, OwnerName, OwnerChain0 };   // OwnerChain0 + k: cname_chain[k]

// Lists longer than this are matched against records only at the expected position.
constexpr std::size_t max_scanned = 64;
constexpr std::size_t max_interned_servers = 16;

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

void put_string(std::string& out, std::string_view s) {
    put_varint(out, s.size());
    out.append(s);
}

// A name in a list: varint (length of its own part * 2 + 1 when it ends in a suffix of the
// question), its own part, [varint where that suffix starts in the question]. An MX host
// (mx.example.test for example.test) or a CNAME in the same domain shares most of it.
constexpr std::size_t min_shared_suffix = 4;

void put_name(std::string& out, std::string_view name, std::string_view question) {
    std::size_t shared = 0;
    while (shared < name.size() && shared < question.size() &&
           name[name.size() - 1 - shared] == question[question.size() - 1 - shared]) {
        ++shared;
    }
    if (shared < min_shared_suffix) {
        put_varint(out, std::uint64_t{name.size()} * 2);
        out.append(name);
        return;
    }
    const auto own = name.substr(0, name.size() - shared);
    put_varint(out, std::uint64_t{own.size()} * 2 + 1);
    out.append(own);
    put_varint(out, question.size() - shared);
}

// Reads what put_* wrote. The data is our own, written by pack(): no bounds to check.
struct Reader {
    const char* p;

    unsigned byte() noexcept { return static_cast<unsigned char>(*p++); }
    std::uint64_t varint() noexcept {
        std::uint64_t v = 0;
        for (unsigned shift = 0;; shift += 7) {
            const unsigned b = byte();
            v |= std::uint64_t{b & 0x7fu} << shift;
            if (b < 0x80) return v;
        }
    }
    std::string_view string() noexcept {
        const auto n = static_cast<std::size_t>(varint());
        const std::string_view s(p, n);
        p += n;
        return s;
    }
    std::string name(std::string_view question) {
        const auto head = varint();
        const auto own_size = static_cast<std::size_t>(head / 2);
        std::string out(p, own_size);
        p += own_size;
        if ((head & 1) != 0) out.append(question.substr(static_cast<std::size_t>(varint())));
        return out;
    }
};

// The presentation name the key's wire-form name spells (the key is question_key(): the
// lower-cased wire name, then the type in two bytes), when every byte is plain: no escapes
// needed. False for anything else, including keys that are not in that form at all.
bool name_of_key(std::string_view key, std::string& out) {
    out.clear();
    if (key.size() < 3) return false;
    const std::string_view wire = key.substr(0, key.size() - 2);
    for (std::size_t i = 0;;) {
        const unsigned len = static_cast<unsigned char>(wire[i++]);
        if (len == 0) return i == wire.size();
        if (len > 63 || wire.size() - i <= len) return false;   // 64+: not a plain label length
        if (!out.empty()) out.push_back('.');
        for (const char c : wire.substr(i, len)) {
            const auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u >= 0x7f || c == '.' || c == '\\') return false;
            out.push_back(c);
        }
        i += len;
    }
}

// The key as entries hold it. An IPv6 PTR question is 32 one-nibble labels, then ip6.arpa:
// 64 of its 76 bytes spell 16, and it is kept as 0xff and those 16 bytes, then the rest.
// A key that is not wire form and starts with 0xfe or 0xff gets 0xfe in front, so two
// different keys are never held alike.
constexpr std::size_t nibble_labels = 32;

int nibble(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;   // keys are folded to lower case
    return -1;
}

void stored_key(std::string_view key, std::string& out) {
    out.clear();
    bool nibbles = key.size() > 2 * nibble_labels;
    for (std::size_t i = 0; nibbles && i < nibble_labels; ++i) {
        nibbles = key[2 * i] == '\x01' && nibble(key[2 * i + 1]) >= 0;
    }
    if (nibbles) {
        out.push_back('\xff');
        for (std::size_t i = 0; i < nibble_labels; i += 2) {
            out.push_back(static_cast<char>(nibble(key[2 * i + 1]) << 4 | nibble(key[2 * i + 3])));
        }
        out.append(key.substr(2 * nibble_labels));
        return;
    }
    if (!key.empty() && static_cast<unsigned char>(key[0]) >= 0xfe) out.push_back('\xfe');
    out.append(key);
}

std::optional<RrType> type_of_key(std::string_view key) noexcept {
    if (key.size() < 2) return std::nullopt;
    const auto hi = static_cast<unsigned char>(key[key.size() - 2]), lo = static_cast<unsigned char>(key.back());
    return static_cast<RrType>(static_cast<std::uint16_t>(hi << 8 | lo));
}

void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// A record back from its packed form; `r` holds the fields decoded so far (all but records).
std::string unpack_record(Reader& in, const DnsResult& r) {
    if (in.byte() == 0) return std::string(in.string());
    std::string out;
    const auto owner = in.varint();
    if (owner == OwnerInline) {
        out.append(in.string());
    } else {
        out.append(owner == OwnerName ? r.name : r.cname_chain[owner - OwnerChain0]);
        out.push_back('.');
    }
    out.push_back(' ');
    append_number(out, in.varint());
    out.append(" IN ");
    out.append(to_string(template_types[in.byte()]));
    out.push_back(' ');
    const auto rdata = in.varint();
    const auto i = static_cast<std::size_t>(rdata / rdata_kinds);
    switch (rdata % rdata_kinds) {
    case RdataInline: out.append(in.string()); break;
    case RdataAddress: out.append(r.addresses[i].to_string()); break;
    case RdataName: out.append(r.names[i]).push_back('.'); break;
    case RdataChain: out.append(r.cname_chain[i]).push_back('.'); break;
    case RdataMx:
        append_number(out, r.mx[i].preference);
        out.push_back(' ');
        out.append(r.mx[i].exchange).push_back('.');
        break;
    }
    return out;
}

// Where in `list` an item matching `match` is: at `expected` (records usually come in the
// order of the lists made from them), else anywhere in a short list.
template <class T, class Match>
std::optional<std::size_t> index_of(const std::vector<T>& list, std::size_t expected, Match match) {
    if (expected < list.size() && match(list[expected])) return expected;
    if (list.size() > max_scanned) return std::nullopt;
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (match(list[i])) return i;
    }
    return std::nullopt;
}

bool is_name_dot(std::string_view text, std::string_view name) noexcept {
    return text.size() == name.size() + 1 && text.back() == '.' && text.starts_with(name);
}

// How many records so far referred to each list: the next one is expected there.
struct TemplateCursor {
    std::size_t addresses = 0, names = 0, chain = 0, mx = 0;
};

// "OWNER TTL IN TYPE RDATA" as a template; false when `rec` is not of that shape.
bool put_template(std::string& out, std::string_view rec, const DnsResult& r, TemplateCursor& at) {
    std::string_view rest = rec;
    auto token = [&rest]() -> std::optional<std::string_view> {
        const auto space = rest.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        const auto t = rest.substr(0, space);
        rest.remove_prefix(space + 1);
        return t;
    };
    const auto owner = token(), ttl_text = token(), rr_class = token(), type_text = token();
    if (!type_text || *rr_class != "IN") return false;
    std::uint32_t ttl = 0;
    const auto parsed = std::from_chars(ttl_text->data(), ttl_text->data() + ttl_text->size(), ttl);
    if (parsed.ec != std::errc{} || parsed.ptr != ttl_text->data() + ttl_text->size()) return false;
    const auto type = std::find_if(std::begin(template_types), std::end(template_types),
                                   [&](RrType t) { return to_string(t) == *type_text; });
    if (type == std::end(template_types)) return false;

    out.push_back(1);
    if (is_name_dot(*owner, r.name)) {
        put_varint(out, OwnerName);
    } else if (const auto k = index_of(r.cname_chain, 0, [&](const std::string& c) { return is_name_dot(*owner, c); })) {
        put_varint(out, OwnerChain0 + *k);
    } else {
        put_varint(out, OwnerInline);
        put_string(out, *owner);
    }
    put_varint(out, ttl);
    out.push_back(static_cast<char>(type - std::begin(template_types)));

    const std::string_view rdata = rest;
    auto put_ref = [&out](RdataKind kind, std::size_t i, std::size_t& next) {
        put_varint(out, std::uint64_t{i} * rdata_kinds + kind);
        next = i + 1;
    };
    if (*type == RrType::A || *type == RrType::Aaaa) {
        if (const auto address = util::IpAddress::parse(rdata)) {
            if (const auto i = index_of(r.addresses, at.addresses, [&](const util::IpAddress& a) { return a == *address; })) {
                put_ref(RdataAddress, *i, at.addresses);
                return true;
            }
        }
    } else if (*type == RrType::Mx) {
        const auto space = rdata.find(' ');
        std::uint16_t preference = 0;
        if (space != std::string_view::npos) {
            const auto p = std::from_chars(rdata.data(), rdata.data() + space, preference);
            const auto exchange = rdata.substr(space + 1);
            if (p.ec == std::errc{} && p.ptr == rdata.data() + space) {
                if (const auto i = index_of(r.mx, at.mx, [&](const MxRecord& m) {
                        return m.preference == preference && is_name_dot(exchange, m.exchange);
                    })) {
                    put_ref(RdataMx, *i, at.mx);
                    return true;
                }
            }
        }
    } else {
        auto named = [&](const std::string& n) { return is_name_dot(rdata, n); };
        if (const auto i = index_of(r.names, at.names, named)) {
            put_ref(RdataName, *i, at.names);
            return true;
        }
        if (const auto i = index_of(r.cname_chain, at.chain, named)) {
            put_ref(RdataChain, *i, at.chain);
            return true;
        }
    }
    put_varint(out, RdataInline);
    put_string(out, rdata);
    return true;
}

void put_record(std::string& out, const std::string& rec, const DnsResult& r, TemplateCursor& at) {
    const std::size_t start = out.size();
    const TemplateCursor before = at;
    if (put_template(out, rec, r, at)) {
        // Only what spells the record back exactly is kept (spacing, case, number forms...).
        Reader check{out.data() + start};
        if (unpack_record(check, r) == rec) return;
    }
    out.resize(start);
    at = before;
    out.push_back(0);
    put_string(out, rec);
}

void put_address(std::string& out, const util::IpAddress& a) {
    out.push_back(static_cast<char>(a.size()));
    out.append(reinterpret_cast<const char*>(a.bytes()), a.size());
}

util::IpAddress read_address(Reader& in) {
    if (in.byte() == 4) {
        std::array<std::uint8_t, 4> b;
        std::memcpy(b.data(), in.p, b.size());
        in.p += b.size();
        return util::IpAddress::v4(b);
    }
    std::array<std::uint8_t, 16> b;
    std::memcpy(b.data(), in.p, b.size());
    in.p += b.size();
    return util::IpAddress::v6(b);
}

// `out` = the entry's data: the key as held (`stored`) and the result, packed (see above).
void pack(std::string& out, std::string_view stored, std::string_view key, const DnsResult& r,
          std::uint32_t server_ref) {
    out.clear();
    put_string(out, stored);
    std::string spelt;
    const bool name_from_key = name_of_key(key, spelt) && spelt == r.name;
    const bool type_from_key = type_of_key(key) == r.type;
    const unsigned lists = (r.addresses.empty() ? 0 : list_addresses) | (r.names.empty() ? 0 : list_names) |
                           (r.mx.empty() ? 0 : list_mx) | (r.cname_chain.empty() ? 0 : list_chain) |
                           (r.records.empty() ? 0 : list_records);
    out.push_back(static_cast<char>(static_cast<unsigned>(r.status) | (name_from_key ? name_in_key : 0) |
                                    (type_from_key ? type_in_key : 0) | (lists != 0 ? has_lists : 0)));
    if (!type_from_key) put_varint(out, static_cast<std::uint16_t>(r.type));
    if (!name_from_key) put_string(out, r.name);
    put_varint(out, r.ttl);
    put_varint(out, server_ref);
    if (server_ref == 0) put_string(out, r.server);
    if (lists == 0) return;
    out.push_back(static_cast<char>(lists));
    if (!r.addresses.empty()) {
        put_varint(out, r.addresses.size());
        for (const auto& a : r.addresses) put_address(out, a);
    }
    if (!r.names.empty()) {
        put_varint(out, r.names.size());
        for (const auto& n : r.names) put_name(out, n, r.name);
    }
    if (!r.mx.empty()) {
        put_varint(out, r.mx.size());
        for (const auto& m : r.mx) {
            put_varint(out, m.preference);
            put_name(out, m.exchange, r.name);
        }
    }
    if (!r.cname_chain.empty()) {
        put_varint(out, r.cname_chain.size());
        for (const auto& c : r.cname_chain) put_name(out, c, r.name);
    }
    if (!r.records.empty()) {
        put_varint(out, r.records.size());
        TemplateCursor at;
        for (const auto& rec : r.records) put_record(out, rec, r, at);
    }
}

template <class T, class Read>
void read_list(Reader& in, std::vector<T>& list, Read read) {
    const auto n = static_cast<std::size_t>(in.varint());
    list.reserve(n);
    for (std::size_t i = 0; i < n; ++i) list.push_back(read());
}

// The result packed after `key` at `in`.
DnsResult unpack(std::string_view key, Reader in, const std::vector<std::string>& servers) {
    DnsResult out;
    const unsigned flags = in.byte();
    out.status = static_cast<DnsStatus>(flags & status_bits);
    out.type = (flags & type_in_key) != 0 ? *type_of_key(key) : static_cast<RrType>(in.varint());
    if ((flags & name_in_key) != 0) {
        name_of_key(key, out.name);
    } else {
        out.name = in.string();
    }
    out.ttl = static_cast<std::uint32_t>(in.varint());
    const auto server = static_cast<std::size_t>(in.varint());
    out.server = server == 0 ? std::string(in.string()) : servers[server - 1];
    if ((flags & has_lists) == 0) return out;
    const unsigned lists = in.byte();
    auto name = [&in, &out] { return in.name(out.name); };
    if ((lists & list_addresses) != 0) read_list(in, out.addresses, [&in] { return read_address(in); });
    if ((lists & list_names) != 0) read_list(in, out.names, name);
    if ((lists & list_mx) != 0) {
        read_list(in, out.mx, [&] {
            const auto preference = static_cast<std::uint16_t>(in.varint());
            return MxRecord{preference, in.name(out.name)};
        });
    }
    if ((lists & list_chain) != 0) read_list(in, out.cname_chain, name);
    if ((lists & list_records) != 0) read_list(in, out.records, [&] { return unpack_record(in, out); });
    return out;
}

}  // namespace

CachePolicy CachePolicy::from(const config::DnsConfig& cfg) {
    CachePolicy p;
    p.max_ttl = whole_seconds(cfg.max_ttl);
    p.negative_ttl = whole_seconds(cfg.negative_ttl);
    p.tempfail_ttl = whole_seconds(cfg.tempfail_ttl);
    return p;
}

std::chrono::seconds CachePolicy::lifetime(const DnsResult& r) const noexcept {
    const std::chrono::seconds own{r.ttl};
    switch (r.status) {
    case DnsStatus::Answer: return std::min(own, max_ttl);
    case DnsStatus::NxDomain: case DnsStatus::NoData: return std::min(own, negative_ttl);
    case DnsStatus::ServFail: case DnsStatus::Refused: case DnsStatus::Timeout:
    case DnsStatus::BadResponse: case DnsStatus::NetError: return tempfail_ttl;
    }
    return std::chrono::seconds{0};
}

std::string_view Cache::Node::key() const noexcept {
    Reader in{data()};
    const auto n = static_cast<std::size_t>(in.varint());
    return {in.p, n};
}

Cache::~Cache() { clear(); }

std::uint32_t Cache::hash_of(std::string_view key) noexcept {
    const auto h = static_cast<std::uint64_t>(std::hash<std::string_view>{}(key));
    return static_cast<std::uint32_t>(h ^ (h >> 32));
}

// Lemire's multiply-shift: any table size, not only powers of two, so the index can stop
// at what `capacity_` entries need.
std::size_t Cache::home_slot(std::uint32_t hash) const noexcept {
    return static_cast<std::size_t>((std::uint64_t{hash} * slots_.size()) >> 32);
}

std::size_t Cache::slot_of(std::string_view key, std::uint32_t hash) const noexcept {
    const std::size_t n = slots_.size();
    for (std::size_t i = home_slot(hash);; i = i + 1 == n ? 0 : i + 1) {
        const Node* node = slots_[i];
        if (node == nullptr || (node->hash == hash && node->key() == key)) return i;
    }
}

// Backward-shift deletion (linear probing without tombstones): every entry after the gap
// whose home is not between the gap and itself moves into the gap.
void Cache::erase_slot(std::size_t slot) noexcept {
    Node* node = slots_[slot];
    unlink(node);
    --size_;
    entry_bytes_ -= node->bytes;
    free_node(node);
    const std::size_t n = slots_.size();
    for (std::size_t j = slot + 1 == n ? 0 : slot + 1;; j = j + 1 == n ? 0 : j + 1) {
        Node* next = slots_[j];
        if (next == nullptr) break;
        const std::size_t home = home_slot(next->hash);
        const bool stays = slot <= j ? (slot < home && home <= j) : (slot < home || home <= j);
        if (!stays) {
            slots_[slot] = next;
            slot = j;
        }
    }
    slots_[slot] = nullptr;
}

void Cache::grow_index() {
    // At load 0.8, `capacity_` entries need capacity_ * 5 / 4 slots: never more than that.
    constexpr std::size_t most_slots = std::size_t{1} << 32;   // the hash has 32 bits
    const std::size_t enough = capacity_ >= most_slots ? most_slots : capacity_ + capacity_ / 4 + 2;
    const std::size_t want = std::min(std::max<std::size_t>(16, slots_.size() * 2), enough);
    if (want <= slots_.size()) return;
    std::vector<Node*> old = std::exchange(slots_, std::vector<Node*>(want, nullptr));
    for (Node* node : old) {
        if (node == nullptr) continue;
        std::size_t i = home_slot(node->hash);
        while (slots_[i] != nullptr) i = i + 1 == want ? 0 : i + 1;
        slots_[i] = node;
    }
}

void Cache::link_newest(Node* node) noexcept {
    node->older = lru_newest_;
    node->newer = nullptr;
    if (lru_newest_ != nullptr) lru_newest_->newer = node;
    lru_newest_ = node;
    if (lru_oldest_ == nullptr) lru_oldest_ = node;
}

void Cache::unlink(Node* node) noexcept {
    (node->newer != nullptr ? node->newer->older : lru_newest_) = node->older;
    (node->older != nullptr ? node->older->newer : lru_oldest_) = node->newer;
    node->newer = node->older = nullptr;
}

Cache::Node* Cache::new_node(std::string_view data, std::uint32_t hash, TimePoint expires) {
    const std::size_t bytes = sizeof(Node) + data.size();
    Node* node = new (::operator new(bytes)) Node{};
    node->expires = expires;
    node->hash = hash;
    node->bytes = static_cast<std::uint32_t>(bytes);
    std::memcpy(node + 1, data.data(), data.size());
    return node;
}

void Cache::free_node(Node* node) noexcept {
    node->~Node();
    ::operator delete(static_cast<void*>(node));
}

std::uint32_t Cache::server_ref(const std::string& server) {
    for (std::size_t i = 0; i < servers_.size(); ++i) {
        if (servers_[i] == server) return static_cast<std::uint32_t>(i + 1);
    }
    if (servers_.size() >= max_interned_servers) return 0;
    servers_.push_back(server);
    return static_cast<std::uint32_t>(servers_.size());
}

std::optional<DnsResult> Cache::find(const std::string& key, TimePoint now) {
    if (size_ == 0) return std::nullopt;
    stored_key(key, key_scratch_);
    const std::size_t slot = slot_of(key_scratch_, hash_of(key_scratch_));
    Node* node = slots_[slot];
    if (node == nullptr) return std::nullopt;
    if (node->expires <= now) {
        erase_slot(slot);
        return std::nullopt;
    }
    unlink(node);
    link_newest(node);
    Reader in{node->data()};
    in.string();   // the key
    DnsResult out = unpack(key, in, servers_);
    out.from_cache = true;
    out.elapsed = std::chrono::microseconds{0};
    // The TTL a consumer sees is what is left of it (rounded up: 0 would read "expired").
    const auto left = std::chrono::ceil<std::chrono::seconds>(node->expires - now).count();
    out.ttl = static_cast<std::uint32_t>(std::min<std::int64_t>(out.ttl, left));
    return out;
}

void Cache::insert(const std::string& key, DnsResult result, TimePoint now, TimePoint expires) {
    if (capacity_ == 0 || expires <= now) return;
    stored_key(key, key_scratch_);
    const std::string_view stored = key_scratch_;
    pack(scratch_, stored, key, result, server_ref(result.server));
    if (scratch_.size() > std::numeric_limits<std::uint32_t>::max() - sizeof(Node)) return;   // not from DNS
    const std::uint32_t hash = hash_of(stored);
    Node* node = new_node(scratch_, hash, expires);

    if (size_ > 0) {
        if (const std::size_t slot = slot_of(stored, hash); slots_[slot] != nullptr) erase_slot(slot);   // replaced: no eviction
    }
    while (size_ >= capacity_ && lru_oldest_ != nullptr) {
        erase_slot(slot_of(lru_oldest_->key(), lru_oldest_->hash));
        ++evictions_;
    }
    if ((size_ + 1) * 5 > slots_.size() * 4) {
        try {
            grow_index();
        } catch (...) {
            free_node(node);
            throw;
        }
    }
    slots_[slot_of(stored, hash)] = node;
    link_newest(node);
    ++size_;
    entry_bytes_ += node->bytes;
}

void Cache::clear() noexcept {
    for (Node* node = lru_newest_; node != nullptr;) {
        Node* older = node->older;
        free_node(node);
        node = older;
    }
    lru_newest_ = lru_oldest_ = nullptr;
    size_ = 0;
    entry_bytes_ = 0;
    slots_ = std::vector<Node*>{};
    servers_.clear();
}

}  // namespace rpd::dns
