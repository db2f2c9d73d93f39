#include "util/duration.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

namespace rpd::util {

namespace {
struct Unit {
    std::string_view suffix;
    std::int64_t millis;
};
// "ms" before "m" and "s": the longest suffix must be tried first.
constexpr std::array<Unit, 5> units{{
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000},
}};
}  // namespace

std::optional<Millis> parse_duration(std::string_view text) {
    for (const auto& unit : units) {
        if (text.size() <= unit.suffix.size() || !text.ends_with(unit.suffix)) continue;
        const auto digits = text.substr(0, text.size() - unit.suffix.size());
        std::int64_t value = 0;
        const auto* end = digits.data() + digits.size();
        const auto [ptr, ec] = std::from_chars(digits.data(), end, value);
        if (ec != std::errc{} || ptr != end || value < 0 || digits.front() == '+') return std::nullopt;
        if (value > std::numeric_limits<std::int64_t>::max() / unit.millis) return std::nullopt;
        return Millis{value * unit.millis};
    }
    return std::nullopt;
}

std::string format_duration(Millis d) {
    const auto ms = d.count();
    for (auto it = units.rbegin(); it != units.rend(); ++it) {
        if (ms != 0 && ms % it->millis == 0) return std::to_string(ms / it->millis) + std::string(it->suffix);
    }
    return std::to_string(ms) + "ms";
}

}  // namespace rpd::util
