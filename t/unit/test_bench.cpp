// Unit tests for rpd-bench's pure pieces (contrib/bench): reply checking and the
// latency histogram (header-only there, so included by path), and the daemon
// configuration the benchmarks use.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "../../contrib/bench/histogram.hpp"
#include "../../contrib/bench/reply.hpp"
#include "config/config.hpp"

using rpd::bench::check_reply;
using rpd::bench::LatencyHistogram;
using rpd::bench::ReplyStatus;

TEST_CASE("bench reply: only action=<one line> then an empty line is well-formed", "[bench]") {
    struct Case {
        const char* label;
        std::string bytes;
        ReplyStatus want;
        const char* word;
    };
    const std::vector<Case> cases = {
        {"dunno", "action=DUNNO\n\n", ReplyStatus::Ok, "DUNNO"},
        {"code and text", "action=450 4.7.1 Host not found\n\n", ReplyStatus::Ok, "450"},
        {"prepend", "action=PREPEND X-Reverse-Lookup: client=no_ptr\n\n", ReplyStatus::Ok, "PREPEND"},
        {"tab separates the word", "action=REJECT\tgo away\n\n", ReplyStatus::Ok, "REJECT"},
        {"empty action", "action=\n\n", ReplyStatus::EmptyAction, ""},
        {"blank before the action", "action= DUNNO\n\n", ReplyStatus::EmptyAction, ""},
        {"CR LF", "action=DUNNO\r\n\r\n", ReplyStatus::NoTerminator, ""},
        {"CR inside", "action=DUNNO\r\n\n", ReplyStatus::ControlByte, ""},
        {"NUL inside", std::string("action=DUN\0NO\n\n", 15), ReplyStatus::ControlByte, ""},
        {"DEL inside", "action=DUNNO\x7f\n\n", ReplyStatus::ControlByte, ""},
        {"second attribute", "action=DUNNO\nfoo=bar\n\n", ReplyStatus::ExtraLine, ""},
        {"other attribute", "foo=bar\n\n", ReplyStatus::NoAction, ""},
        {"attribute names are case-sensitive", "ACTION=DUNNO\n\n", ReplyStatus::NoAction, ""},
        {"only the empty line", "\n\n", ReplyStatus::NoAction, ""},
        {"no empty line", "action=DUNNO\n", ReplyStatus::NoTerminator, ""},
        {"nothing", "", ReplyStatus::NoTerminator, ""},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        const auto r = check_reply(c.bytes);
        CHECK(r.status == c.want);
        CHECK(r.first_word == c.word);
    }
    CHECK(check_reply("action=450 4.7.1 Host not found\n\n").action == "450 4.7.1 Host not found");
}

TEST_CASE("bench histogram: every value lands in a bucket within 1/64 above it", "[bench]") {
    std::vector<std::uint64_t> values;
    for (std::uint64_t v = 0; v < 5000; ++v) values.push_back(v);
    for (unsigned b = 7; b < 64; ++b) {
        const std::uint64_t p = std::uint64_t{1} << b;
        for (const std::uint64_t v : {p - 1, p, p + 1, p + p / 3, p + p / 2 + 7}) values.push_back(v);
    }
    values.push_back(UINT64_MAX);
    std::size_t last_index = 0;
    std::uint64_t last_value = 0;
    for (const auto v : values) {
        INFO("value " << v);
        const auto i = LatencyHistogram::index_of(v);
        REQUIRE(i < LatencyHistogram::bucket_count);
        const auto ub = LatencyHistogram::upper_bound_of(i);
        CHECK(ub >= v);
        CHECK(static_cast<double>(ub - v) <= static_cast<double>(v) / 64.0);
        if (i > 0) CHECK(LatencyHistogram::upper_bound_of(i - 1) < v);   // not in an earlier bucket
        if (v >= last_value) CHECK(i >= last_index);                     // monotonic
        last_index = i;
        last_value = v;
    }
    CHECK(LatencyHistogram::index_of(UINT64_MAX) == LatencyHistogram::bucket_count - 1);
}

TEST_CASE("bench histogram: percentiles of a known distribution", "[bench]") {
    LatencyHistogram h;
    CHECK(h.percentile(0.5) == 0);
    CHECK(h.max() == 0);
    CHECK(h.min() == 0);
    // 1 .. 1000 microseconds, one sample each.
    for (std::uint64_t us = 1; us <= 1000; ++us) h.record(us * 1000);
    CHECK(h.count() == 1000);
    CHECK(h.min() == 1000);
    CHECK(h.max() == 1'000'000);
    CHECK(h.mean() == Approx(500'500.0));
    struct Want {
        double q;
        double value;
    };
    for (const auto& [q, value] : std::vector<Want>{{0.5, 500'000}, {0.9, 900'000}, {0.99, 990'000}, {0.999, 999'000}}) {
        INFO("q " << q);
        const auto got = static_cast<double>(h.percentile(q));
        CHECK(got >= value);                    // never flattering
        CHECK(got <= value * (1.0 + 1.0 / 64));
    }
    CHECK(h.percentile(1.0) == 1'000'000);      // capped at the exact maximum
    CHECK(h.percentile(0.0) == 1000);           // the smallest sample's bucket
}

TEST_CASE("bench histogram: merging equals recording everything in one", "[bench]") {
    LatencyHistogram a, b, all;
    for (std::uint64_t v = 1; v < 100'000; v += 37) {
        (v % 2 ? a : b).record(v * 101);
        all.record(v * 101);
    }
    a.merge(b);
    CHECK(a.count() == all.count());
    CHECK(a.min() == all.min());
    CHECK(a.max() == all.max());
    CHECK(a.mean() == Approx(all.mean()));
    for (const double q : {0.1, 0.5, 0.9, 0.99, 0.999}) CHECK(a.percentile(q) == all.percentile(q));
}

TEST_CASE("bench: contrib/bench/bench.toml is a configuration the daemon accepts", "[bench]") {
    const auto r = rpd::config::load_file(RPD_SOURCE_DIR "/contrib/bench/bench.toml");
    if (const auto* errors = std::get_if<std::vector<rpd::config::ConfigError>>(&r)) {
        std::string all;
        for (const auto& e : *errors) all += e.to_string() + "\n";
        FAIL("bench.toml has errors:\n" << all);
    }
    const auto& cfg = *std::get<std::shared_ptr<const rpd::config::Config>>(r);
    CHECK(cfg.preset_postfix);
    CHECK(cfg.server.max_connections >= 4096 + 2048);   // scenarios 3 and 5
}
