#include "policy/response.hpp"

namespace rpd::policy {

namespace {

constexpr bool is_control(unsigned char c) noexcept { return c < 0x20 || c == 0x7f; }

}  // namespace

void append_response(std::string& out, std::string_view action) {
    out += "action=";
    const auto start = out.size();
    for (const char c : action) {
        if (!is_control(static_cast<unsigned char>(c))) out += c;
    }
    // Spaces alone would also read as an empty action.
    if (out.find_first_not_of(' ', start) == std::string::npos) {
        out.resize(start);
        out += "DUNNO";
    }
    out += "\n\n";
}

std::string format_response(std::string_view action) {
    std::string out;
    out.reserve(action.size() + 9);
    append_response(out, action);
    return out;
}

}  // namespace rpd::policy
