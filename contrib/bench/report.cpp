// contrib/bench/report.cpp -- see report.hpp.
#include "report.hpp"

#include <fmt/format.h>

namespace rpd::bench {
namespace {

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

double rate(const LoadResult& r) { return r.elapsed_s > 0 ? static_cast<double>(r.ok) / r.elapsed_s : 0.0; }

struct Percentiles {
    double p50, p90, p99, p999, max, mean;
};

Percentiles percentiles(const LoadResult& r) {
    const auto& h = r.latency;
    return {ms(h.percentile(0.50)), ms(h.percentile(0.90)), ms(h.percentile(0.99)),
            ms(h.percentile(0.999)), ms(h.max()), h.mean() / 1e6};
}

// JSON string: quotes, backslashes and every byte outside printable ASCII escaped,
// so a server's garbage action word still gives valid JSON.
std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u >= 0x7f) {
            out += fmt::format("\\u{:04x}", u);
        } else {
            out += c;
        }
    }
    return out + '"';
}

std::string csv_field(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

}  // namespace

std::string format_text(const RunInfo& info, const LoadResult& r) {
    std::string out;
    auto line = [&](std::string_view key, const std::string& value) { out += fmt::format("{:<13} {}\n", key, value); };
    line("target", info.target);
    line("source", info.source);
    line("connections", fmt::format("{} ({} thread{}), {} connects{}", info.connections, info.threads,
                                    info.threads == 1 ? "" : "s", r.connects,
                                    info.idle == 0 ? std::string() : fmt::format("; {} idle held open", info.idle)));
    line("requests", fmt::format("{} (ok {})", r.requests, r.ok));
    std::string errors = fmt::format("{}", r.error_total());
    if (r.error_total() > 0) {
        std::string kinds;
        for (std::size_t k = 0; k < error_kinds; ++k) {
            if (r.errors[k] == 0) continue;
            kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", to_string(static_cast<ErrorKind>(k)), r.errors[k]);
        }
        errors += " (" + kinds + ")";
    }
    line("errors", errors);
    for (std::size_t k = 0; k < error_kinds; ++k) {
        if (!r.first_error[k].empty())
            line("", fmt::format("first {}: {}", to_string(static_cast<ErrorKind>(k)), r.first_error[k]));
    }
    line("elapsed", fmt::format("{:.3f} s{}", r.elapsed_s, r.cut_by_cap ? " (cut by --max-duration)" : ""));
    line("requests/s", fmt::format("{:.0f}", rate(r)));
    const auto p = percentiles(r);
    if (r.ok == 0) line("latency ms", "(no ok replies)");
    else line("latency ms", fmt::format("p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  p99.9 {:.3f}  max {:.3f}  (mean {:.3f})",
                                   p.p50, p.p90, p.p99, p.p999, p.max, p.mean));
    std::string actions;
    for (const auto& [word, n] : r.actions.sorted()) actions += fmt::format("{}{} {}", actions.empty() ? "" : ", ", word, n);
    line("actions", actions.empty() ? std::string("(none)") : actions);
    return out;
}

std::string format_json(const RunInfo& info, const LoadResult& r) {
    const auto p = percentiles(r);
    std::string kinds;
    for (std::size_t k = 0; k < error_kinds; ++k)
        kinds += fmt::format("{}\"{}\":{}", k == 0 ? "" : ",", to_string(static_cast<ErrorKind>(k)), r.errors[k]);
    std::string actions;
    for (const auto& [word, n] : r.actions.sorted())
        actions += fmt::format("{}{}:{}", actions.empty() ? "" : ",", json_string(word), n);
    return fmt::format(
        "{{\"target\":{},\"source\":{},\"connections\":{},\"threads\":{},\"idle\":{},\"requests\":{},\"ok\":{},\"errors\":{},"
        "\"errors_by_kind\":{{{}}},\"connects\":{},\"elapsed_s\":{:.6f},\"requests_per_s\":{:.1f},"
        "\"latency_ms\":{{\"p50\":{:.4f},\"p90\":{:.4f},\"p99\":{:.4f},\"p99_9\":{:.4f},\"max\":{:.4f},\"mean\":{:.4f}}},"
        "\"actions\":{{{}}},\"cut_by_cap\":{}}}",
        json_string(info.target), json_string(info.source), info.connections, info.threads, info.idle, r.requests, r.ok,
        r.error_total(), kinds, r.connects, r.elapsed_s, rate(r), p.p50, p.p90, p.p99, p.p999, p.max, p.mean, actions,
        r.cut_by_cap ? "true" : "false");
}

std::string csv_header() {
    std::string kinds;
    for (std::size_t k = 0; k < error_kinds; ++k) kinds += fmt::format(",errors_{}", to_string(static_cast<ErrorKind>(k)));
    return "target,connections,threads,idle,requests,ok,errors" + kinds +
           ",connects,elapsed_s,requests_per_s,p50_ms,p90_ms,p99_ms,p99_9_ms,max_ms,mean_ms,actions,cut_by_cap";
}

std::string format_csv(const RunInfo& info, const LoadResult& r) {
    const auto p = percentiles(r);
    std::string kinds;
    for (std::size_t k = 0; k < error_kinds; ++k) kinds += fmt::format(",{}", r.errors[k]);
    std::string actions;
    for (const auto& [word, n] : r.actions.sorted()) actions += fmt::format("{}{}:{}", actions.empty() ? "" : " ", word, n);
    return fmt::format("{},{},{},{},{},{},{}{},{},{:.6f},{:.1f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{},{}",
                       csv_field(info.target), info.connections, info.threads, info.idle, r.requests, r.ok, r.error_total(), kinds,
                       r.connects, r.elapsed_s, rate(r), p.p50, p.p90, p.p99, p.p999, p.max, p.mean,
                       csv_field(actions), r.cut_by_cap ? "true" : "false");
}

}  // namespace rpd::bench
