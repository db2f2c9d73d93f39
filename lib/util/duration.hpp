// lib/util/duration.hpp -- the config file's duration strings: "250ms", "2s", "5m", "1h", "1d".
//
// In: text. Out: milliseconds, or nullopt for anything else (no sign, no fraction,
// no spaces, no missing unit, no overflow). Not here: range checks per setting.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rpd::util {

using Millis = std::chrono::milliseconds;

std::optional<Millis> parse_duration(std::string_view text);

// Shortest exact spelling: 2000ms -> "2s", 90000ms -> "90s", 1500ms -> "1500ms".
std::string format_duration(Millis d);

}  // namespace rpd::util
