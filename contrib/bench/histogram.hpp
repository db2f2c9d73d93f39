// contrib/bench/histogram.hpp -- request latencies in log-spaced buckets (HDR-like).
//
// In: latencies in nanoseconds, any number of them. Out: count, exact min/max/mean,
// and percentiles with at most 1/64 (1.6 %) relative error: values below 128 ns are
// exact; above, each power of two is split into 64 equal buckets. Fixed size
// (about 30 KiB), no allocation after construction, so recording costs a few
// instructions and no memory grows with the run. Histograms of several workers merge.
// Not here: clocks (the caller measures), printing (report.cpp).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace rpd::bench {

class LatencyHistogram {
public:
    // 7 exact bits below 128; then 64 sub-buckets for each shift 1..57 (up to 2^64 ns).
    static constexpr unsigned exact_bits = 7;
    static constexpr std::uint64_t exact_limit = 1U << exact_bits;          // 128
    static constexpr std::uint64_t sub_buckets = exact_limit / 2;           // 64
    static constexpr std::size_t bucket_count = exact_limit + (64 - exact_bits) * sub_buckets;

    void record(std::uint64_t ns) noexcept {
        ++counts_[index_of(ns)];
        ++count_;
        sum_ += ns;
        min_ = std::min(min_, ns);
        max_ = std::max(max_, ns);
    }

    void merge(const LatencyHistogram& other) noexcept {
        for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
        count_ += other.count_;
        sum_ += other.sum_;
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
    }

    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    std::uint64_t max() const noexcept { return max_; }
    double mean() const noexcept { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_); }

    // A value v such that at least q of the samples are <= v (q in [0, 1]): the upper
    // bound of the bucket holding that sample, so never flattering, but never above the
    // exact maximum (nor other than the exact minimum for the first sample). 0 when empty.
    std::uint64_t percentile(double q) const noexcept {
        if (count_ == 0) return 0;
        q = std::clamp(q, 0.0, 1.0);
        auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
        rank = std::clamp<std::uint64_t>(rank, 1, count_);
        if (rank == 1) return min_;          // the smallest sample is known exactly
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::clamp(upper_bound_of(i), min(), max_);
        }
        return max_;
    }

    static constexpr std::size_t index_of(std::uint64_t v) noexcept {
        if (v < exact_limit) return static_cast<std::size_t>(v);
        const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - exact_bits;   // >= 1
        return static_cast<std::size_t>(exact_limit + (shift - 1) * sub_buckets + ((v >> shift) - sub_buckets));
    }

    // Largest value that lands in bucket i.
    static constexpr std::uint64_t upper_bound_of(std::size_t i) noexcept {
        if (i < exact_limit) return i;
        const std::size_t shift = (i - exact_limit) / sub_buckets + 1;
        const std::uint64_t sub = (i - exact_limit) % sub_buckets + sub_buckets;   // 64..127
        const std::uint64_t low = sub << shift;
        return low + ((std::uint64_t{1} << shift) - 1);
    }

private:
    std::array<std::uint64_t, bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
};

}  // namespace rpd::bench
