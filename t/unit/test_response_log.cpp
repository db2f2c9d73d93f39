#include <catch2/catch.hpp>

#include "log/logger.hpp"
#include "log/sanitize.hpp"
#include "policy/request.hpp"
#include "policy/response.hpp"

using namespace rpd;

TEST_CASE("response: action= line and an empty line", "[response]") {
    struct Case {
        const char* label;
        std::string action;
        std::string want;
    };
    const Case cases[] = {
        {"plain", "DUNNO", "action=DUNNO\n\n"},
        {"with text", "450 4.7.1 cannot find your reverse hostname, [203.0.113.9]",
         "action=450 4.7.1 cannot find your reverse hostname, [203.0.113.9]\n\n"},
        {"CR LF inside are dropped", "REJECT a\r\n\r\naction=OK", "action=REJECT aaction=OK\n\n"},
        {"other control bytes are dropped", std::string("WARN a\0b\x01\x7f", 10), "action=WARN ab\n\n"},
        {"empty becomes DUNNO", "", "action=DUNNO\n\n"},
        {"only line breaks becomes DUNNO", "\r\n", "action=DUNNO\n\n"},
        {"only spaces becomes DUNNO", "   ", "action=DUNNO\n\n"},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        CHECK(policy::format_response(c.action) == c.want);
    }
    std::string out = "action=DUNNO\n\n";
    policy::append_response(out, "OK");
    CHECK(out == "action=DUNNO\n\naction=OK\n\n");
}

TEST_CASE("log: the decision line of SPEC 5", "[log]") {
    policy::Request r;
    r.queue_id = "4F9D21C3A";
    r.client_address = "203.0.113.9";
    r.client_name = "unknown";
    r.helo_name = "mx.example.test";
    r.sender = "a@example.test";
    r.recipient = "b@example.org";
    r.protocol_state = "RCPT";
    CHECK(log::decision_line(r, "REJECT", "client", "no_ptr") ==
          "4F9D21C3A: action=REJECT check=client outcome=no_ptr client=unknown[203.0.113.9] "
          "helo=<mx.example.test> sender=<a@example.test> recipient=<b@example.org> state=RCPT");
}

TEST_CASE("log: decision line without queue id, names or checks", "[log]") {
    policy::Request r;
    CHECK(log::decision_line(r, "DUNNO") ==
          "NOQUEUE: action=DUNNO check=- outcome=- client=unknown[unknown] helo=<> sender=<> recipient=<> state=-");
}

TEST_CASE("log: client values are sanitised in the decision line", "[log]") {
    policy::Request r;
    r.client_address = "192.0.2.1";
    r.helo_name = "evil\r\nNOQUEUE: action=OK";
    r.sender = std::string("a\0b@example.test", 16);
    r.recipient = std::string(1000, 'r');
    r.protocol_state = "RCPT\n";
    const auto line = log::decision_line(r, "DUNNO\n");
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find('\r') == std::string::npos);
    CHECK(line.find(std::string(1, '\0')) == std::string::npos);
    CHECK(line.find("helo=<evil??NOQUEUE: action=OK>") != std::string::npos);
    CHECK(line.find("sender=<a?b@example.test>") != std::string::npos);
    CHECK(line.find("action=DUNNO? ") != std::string::npos);
    CHECK(line.size() < 700);   // the 1000-byte recipient is capped
}

TEST_CASE("log: append_sanitized appends what sanitize returns", "[log]") {
    struct Case {
        const char* label;
        std::string value;
        std::size_t max_len;
    };
    const Case cases[] = {
        {"clean", "mx.example.test", 255},
        {"empty", "", 255},
        {"CR LF", "evil\r\naction=OK", 255},
        {"NUL, DEL, 8-bit", std::string("a\0b\x7f\xc3\xa9", 6), 255},
        {"exactly the cap", std::string(255, 'x'), 255},
        {"one over the cap", std::string(256, 'x'), 255},
        {"over the cap with a bad byte before the cut", std::string(10, '\n') + std::string(300, 'x'), 255},
        {"a cap below the ellipsis", "abcdef", 2},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        std::string out = "prefix ";
        log::append_sanitized(out, c.value, c.max_len);
        CHECK(out == "prefix " + log::sanitize(c.value, c.max_len));
    }
    CHECK(log::sanitize(std::string(10, '\n') + std::string(300, 'x')) == std::string(10, '?') + std::string(242, 'x') + "...");
    CHECK(log::sanitize("abcdef", 2) == "...");
}

TEST_CASE("log: delay= in seconds, rounded to the millisecond", "[log]") {
    using std::chrono::microseconds;
    using std::chrono::nanoseconds;
    struct Case {
        const char* label;
        nanoseconds delay;
        const char* want;
    };
    const Case cases[] = {
        {"zero", nanoseconds(0), " delay=0.000"},
        {"below half a millisecond", microseconds(499), " delay=0.000"},
        {"half a millisecond rounds up", microseconds(500), " delay=0.001"},
        {"12 ms", microseconds(12'345), " delay=0.012"},
        {"rounds into the next second", microseconds(1'999'500), " delay=2.000"},
        {"a request deadline", std::chrono::seconds(10), " delay=10.000"},
        {"hours", std::chrono::hours(30) + microseconds(7'000), " delay=108000.007"},
        {"negative counts as zero", microseconds(-5'000), " delay=0.000"},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        std::string line = "NOQUEUE: action=DUNNO";
        log::append_delay(line, c.delay);
        CHECK(line == std::string("NOQUEUE: action=DUNNO") + c.want);
    }
}
