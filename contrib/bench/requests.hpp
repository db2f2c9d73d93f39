// contrib/bench/requests.hpp -- the requests rpd-bench sends: from a file, or generated.
//
// A source maps a sequence number (0, 1, 2, ... over the whole run) to one complete
// request, attributes then the empty line. It is immutable once built and renders
// without allocating: a file source hands out views of its prebuilt blocks; the
// generator writes into the caller's scratch buffer (max_size() bytes). Workers on
// several threads share one source.
//
// The generator imitates what Postfix 3.7 sends at RCPT time from an MX that takes
// mail over TLS (SMTPD_POLICY_README attribute list, in its order), with
// documentation addresses and names under bench.test (see README.md, "Generated
// requests", for the naming scheme the benchmark DNS responder answers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rpd::bench {

class RequestSource {
public:
    virtual ~RequestSource() = default;
    // Request number `seq`, ending in "\n\n". May return a view into `scratch`
    // (at least max_size() bytes) or into the source itself. Empty only if a request
    // would not fit into max_size() bytes (a bug, not an input error).
    virtual std::string_view render(std::uint64_t seq, std::span<char> scratch) const noexcept = 0;
    virtual std::size_t max_size() const noexcept = 0;
    virtual std::string describe() const = 0;
};

// A request file: blocks of name=value lines separated by blank lines, sent in turn
// and cycled. Lines starting with '#' are comments; a CR before LF is dropped.
class FileSource final : public RequestSource {
public:
    // nullptr and `error` ("FILE:LINE: message") when the file cannot be used.
    static std::unique_ptr<FileSource> load(const std::string& path, std::string& error);
    static std::unique_ptr<FileSource> from_text(std::string_view text, const std::string& name, std::string& error);

    std::string_view render(std::uint64_t seq, std::span<char> scratch) const noexcept override;
    std::size_t max_size() const noexcept override { return 0; }
    std::string describe() const override;
    std::size_t blocks() const noexcept { return blocks_.size(); }

private:
    std::string name_;
    std::vector<std::string> blocks_;
};

struct GeneratorOptions {
    std::uint64_t clients = 300;        // distinct client addresses (cycled)
    std::uint64_t helos = 300;          // distinct HELO names
    std::uint64_t senders = 300;        // distinct sender domains
    bool unique_clients = false;        // every request a new client, with its own HELO and sender domain
    std::uint64_t client_offset = 0;    // first client index: disjoint ranges for repeated uncached runs
    std::uint64_t instances_per_client = 0;   // 0: a fresh Postfix instance per request
    std::uint32_t run_id = 0;           // part of every instance, so runs do not collide
};

class Generator final : public RequestSource {
public:
    static constexpr std::size_t scratch_size = 2048;

    explicit Generator(const GeneratorOptions& opts) : opts_(opts) {}
    std::string_view render(std::uint64_t seq, std::span<char> scratch) const noexcept override;
    std::size_t max_size() const noexcept override { return scratch_size; }
    std::string describe() const override;

private:
    GeneratorOptions opts_;
};

// The generated names, shared with the benchmark DNS responder (README.md).
// Client index i: the first 759 are 192.0.2.1-253, 198.51.100.1-253, 203.0.113.1-253;
// then 2001:db8::/32 addresses whose last group is never 0.
inline constexpr std::uint64_t ipv4_clients = 3 * 253;
// Writes the canonical text of client address i into `out` (46 bytes); returns its length.
std::size_t format_client_address(std::uint64_t i, char* out) noexcept;
// "192-0-2-7", "2001-db8--1": the address as a host name label.
std::size_t address_label(std::string_view address, char* out) noexcept;

}  // namespace rpd::bench
