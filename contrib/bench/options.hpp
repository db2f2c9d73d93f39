// contrib/bench/options.hpp -- rpd-bench's command line.
//
// In: argv. Out: Options, or a one-line error for a usage mistake (exit 1). No I/O:
// the target is checked by parse_endpoint, the request file read by FileSource.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "requests.hpp"

namespace rpd::bench {

enum class Mode { Load, Echo, PrintRequests, Help, Version };
enum class Format { Text, Json, Csv };

struct Options {
    Mode mode = Mode::Load;
    std::string target;                          // unix:PATH | inet:HOST:PORT
    unsigned connections = 16;
    unsigned threads = 1;
    std::uint64_t requests = 0;
    std::chrono::milliseconds duration{0};
    std::chrono::milliseconds max_duration{0};
    std::chrono::milliseconds timeout{15'000};
    std::uint64_t reconnect_after = 0;
    unsigned idle = 0;                           // extra connections that send nothing
    std::string file;                            // request file; empty: the generator
    GeneratorOptions gen;
    std::uint64_t print_requests = 0;
    Format format = Format::Text;
    bool csv_header = false;
};

inline constexpr std::chrono::milliseconds default_duration{10'000};
inline constexpr std::chrono::milliseconds default_max_duration{600'000};

std::optional<Options> parse_options(const std::vector<std::string_view>& args, std::string& error);

std::string_view usage() noexcept;

}  // namespace rpd::bench
