#include "log/sanitize.hpp"

namespace rpd::log {

std::string sanitize(std::string_view value, std::size_t max_len) {
    const bool cut = value.size() > max_len;
    if (cut) value = value.substr(0, max_len >= 3 ? max_len - 3 : 0);
    std::string out;
    out.reserve(value.size() + (cut ? 3 : 0));
    out.assign(value);   // one copy, then fix what is not printable in place
    for (char& c : out) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) c = '?';
    }
    if (cut) out += "...";
    return out;
}

}  // namespace rpd::log
