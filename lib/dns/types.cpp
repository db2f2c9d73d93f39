#include "dns/types.hpp"

namespace rpd::dns {

std::string_view to_string(DnsStatus s) noexcept {
    switch (s) {
    case DnsStatus::Answer: return "ANSWER";
    case DnsStatus::NxDomain: return "NXDOMAIN";
    case DnsStatus::NoData: return "NODATA";
    case DnsStatus::ServFail: return "SERVFAIL";
    case DnsStatus::Refused: return "REFUSED";
    case DnsStatus::Timeout: return "TIMEOUT";
    case DnsStatus::BadResponse: return "BADRESPONSE";
    case DnsStatus::NetError: return "NETERROR";
    }
    return "?";
}

std::string_view to_string(RrType t) noexcept {
    switch (t) {
    case RrType::A: return "A";
    case RrType::Ns: return "NS";
    case RrType::Cname: return "CNAME";
    case RrType::Soa: return "SOA";
    case RrType::Ptr: return "PTR";
    case RrType::Mx: return "MX";
    case RrType::Txt: return "TXT";
    case RrType::Aaaa: return "AAAA";
    }
    return "?";
}

}  // namespace rpd::dns
