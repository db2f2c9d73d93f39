#include "log/sanitize.hpp"

namespace rpd::log {

std::string sanitize(std::string_view value, std::size_t max_len) {
    std::string out;
    out.reserve(value.size() > max_len ? max_len : value.size());
    append_sanitized(out, value, max_len);
    return out;
}

void append_sanitized(std::string& out, std::string_view value, std::size_t max_len) {
    const bool cut = value.size() > max_len;
    if (cut) value = value.substr(0, max_len >= 3 ? max_len - 3 : 0);
    const auto from = out.size();
    out += value;   // one copy, then fix what is not printable in place
    for (auto i = from; i < out.size(); ++i) {
        const auto u = static_cast<unsigned char>(out[i]);
        if (u < 0x20 || u >= 0x7f) out[i] = '?';
    }
    if (cut) out += "...";
}

}  // namespace rpd::log
