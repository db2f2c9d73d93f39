// contrib/bench/report.hpp -- a run's summary: for people (text), for scripts (JSON, CSV).
//
// requests/s counts ok replies per second of the whole run (connects included).
// Latencies are of ok requests, in milliseconds, from the request's first byte sent
// to its reply's last byte read.
#pragma once

#include <cstdio>
#include <string>

#include "load.hpp"

namespace rpd::bench {

struct RunInfo {
    std::string target;
    std::string source;      // RequestSource::describe()
    unsigned connections = 0;
    unsigned threads = 1;
    unsigned idle = 0;       // --idle connections held open meanwhile
};

std::string format_text(const RunInfo& info, const LoadResult& r);
std::string format_json(const RunInfo& info, const LoadResult& r);   // one line, no newline
std::string csv_header();
std::string format_csv(const RunInfo& info, const LoadResult& r);    // one line, no newline

}  // namespace rpd::bench
