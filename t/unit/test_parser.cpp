#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "policy/parser.hpp"

using namespace rpd;
using policy::ParseError;
using policy::Parser;
using Kind = ParseError::Kind;

namespace {

// What Postfix 3.7 smtpd sends for RCPT TO (attribute order as in smtpd_check.c), with
// documentation addresses and names.
const std::string postfix_rcpt =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=ESMTP\n"
    "client_address=203.0.113.9\n"
    "client_name=unknown\n"
    "client_port=51234\n"
    "reverse_client_name=mx.example.test\n"
    "server_address=192.0.2.25\n"
    "server_port=25\n"
    "helo_name=mx.example.test\n"
    "sender=alice@example.test\n"
    "recipient=bob@example.org\n"
    "recipient_count=0\n"
    "queue_id=\n"
    "instance=1a2b.6565a1b2.c3d4e.0\n"
    "size=1024\n"
    "etrn_domain=\n"
    "stress=\n"
    "sasl_method=\n"
    "sasl_username=\n"
    "sasl_sender=\n"
    "ccert_subject=\n"
    "ccert_issuer=\n"
    "ccert_fingerprint=\n"
    "ccert_pubkey_fingerprint=\n"
    "encryption_protocol=TLSv1.3\n"
    "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
    "encryption_keysize=256\n"
    "policy_context=\n"
    "\n";

void check_postfix_rcpt(const policy::Request& r) {
    CHECK(r.request == "smtpd_access_policy");
    CHECK(r.state() == policy::ProtocolState::Rcpt);
    CHECK(r.protocol_name == "ESMTP");
    CHECK(r.client_address == "203.0.113.9");
    CHECK(r.client_name == "unknown");
    CHECK(r.client_port == "51234");
    CHECK(r.reverse_client_name == "mx.example.test");
    CHECK(r.server_address == "192.0.2.25");
    CHECK(r.helo_name == "mx.example.test");
    CHECK(r.sender == "alice@example.test");
    CHECK(r.recipient == "bob@example.org");
    CHECK(r.recipient_count_value() == 0u);
    CHECK(r.queue_id.empty());
    CHECK(r.instance == "1a2b.6565a1b2.c3d4e.0");
    CHECK(r.size_bytes() == 1024u);
    CHECK(r.encryption_cipher == "TLS_AES_256_GCM_SHA384");
    CHECK(r.sasl_username.empty());
}

struct Outcome {
    std::vector<policy::Request> requests;
    std::optional<ParseError> error;
    bool mid_request = false;
};

// Feeds `chunks` in order, collects every complete request and the first error; with
// `eof`, ends with finish() as a closed connection would.
Outcome feed(Parser& parser, const std::vector<std::string>& chunks, bool eof = false) {
    Outcome out;
    policy::Request request;   // one object throughout, as the server recycles its Requests
    for (const auto& chunk : chunks) {
        std::string_view input = chunk;
        for (;;) {
            const auto status = parser.parse(input, request);
            if (status == Parser::Status::Complete) {
                out.requests.push_back(request);
                continue;
            }
            if (status == Parser::Status::Error) {
                out.error = parser.error();
                return out;
            }
            REQUIRE(input.empty());   // NeedMore means every byte was taken
            break;
        }
    }
    if (eof && parser.finish() == Parser::Status::Error) out.error = parser.error();
    out.mid_request = parser.mid_request();
    return out;
}

Outcome feed(const std::vector<std::string>& chunks, bool eof = false) {
    Parser parser;
    return feed(parser, chunks, eof);
}

Outcome feed_one(const std::string& text, bool eof = false) { return feed(std::vector<std::string>{text}, eof); }

std::string attribute_line(std::size_t length) {   // "x=vvv..." of exactly `length` bytes, no terminator
    REQUIRE(length >= 2);
    return "x=" + std::string(length - 2, 'v');
}

}  // namespace

TEST_CASE("parser: a Postfix 3.7 RCPT request in one piece", "[parser]") {
    const auto got = feed_one(postfix_rcpt, true);
    REQUIRE_FALSE(got.error);
    REQUIRE(got.requests.size() == 1);
    check_postfix_rcpt(got.requests[0]);
    CHECK_FALSE(got.mid_request);
}

TEST_CASE("parser: every split point of two requests gives the same requests", "[parser]") {
    const std::string two = postfix_rcpt + postfix_rcpt;
    for (std::size_t at = 0; at <= two.size(); ++at) {
        INFO("split at " << at);
        const auto got = feed({two.substr(0, at), two.substr(at)}, true);
        REQUIRE_FALSE(got.error);
        REQUIRE(got.requests.size() == 2);
        check_postfix_rcpt(got.requests[0]);
        check_postfix_rcpt(got.requests[1]);
    }
}

TEST_CASE("parser: every pair of split points of the CRLF form", "[parser]") {
    std::string crlf;
    for (const char c : postfix_rcpt) {
        if (c == '\n') crlf += '\r';
        crlf += c;
    }
    // A shorter request (its first lines) keeps this quadratic test fast.
    const std::string text = crlf.substr(0, crlf.find("\r\n", 180) + 2) + "\r\n";
    Parser reference;
    const auto want = feed(reference, {text}, true);
    REQUIRE_FALSE(want.error);
    REQUIRE(want.requests.size() == 1);
    for (std::size_t a = 0; a <= text.size(); ++a) {
        for (std::size_t b = a; b <= text.size(); ++b) {
            const auto got = feed({text.substr(0, a), text.substr(a, b - a), text.substr(b)}, true);
            if (got.error || got.requests.size() != 1 || got.requests[0].helo_name != want.requests[0].helo_name ||
                got.requests[0].client_port != want.requests[0].client_port) {
                FAIL("split at " << a << " and " << b);
            }
        }
    }
}

TEST_CASE("parser: one byte at a time", "[parser]") {
    std::vector<std::string> bytes;
    const std::string three = postfix_rcpt + postfix_rcpt + postfix_rcpt;
    for (const char c : three) bytes.emplace_back(1, c);
    const auto got = feed(bytes, true);
    REQUIRE_FALSE(got.error);
    REQUIRE(got.requests.size() == 3);
    for (const auto& r : got.requests) check_postfix_rcpt(r);
}

TEST_CASE("parser: several requests back to back in one chunk", "[parser]") {
    const std::string text = "request=smtpd_access_policy\nclient_address=192.0.2.1\n\n"
                             "request=smtpd_access_policy\nclient_address=192.0.2.2\n\n"
                             "request=smtpd_access_policy\nclient_address=192.0.2.3\n\n";
    Parser parser;
    std::string_view input = text;
    for (const char* want : {"192.0.2.1", "192.0.2.2", "192.0.2.3"}) {
        policy::Request request;
        REQUIRE(parser.parse(input, request) == Parser::Status::Complete);
        CHECK(request.client_address == want);
    }
    CHECK(input.empty());
    policy::Request none;
    CHECK(parser.parse(input, none) == Parser::Status::NeedMore);
    CHECK(parser.finish() == Parser::Status::NeedMore);
}

TEST_CASE("parser: CR/LF variants", "[parser]") {
    struct Case {
        const char* label;
        std::string text;
        bool ok;
    };
    const Case cases[] = {
        {"LF only", "helo_name=a.example.test\nsender=s@example.test\n\n", true},
        {"CRLF only", "helo_name=a.example.test\r\nsender=s@example.test\r\n\r\n", true},
        {"mixed", "helo_name=a.example.test\r\nsender=s@example.test\n\r\n", true},
        {"CRLF lines, LF end", "helo_name=a.example.test\r\nsender=s@example.test\r\n\n", true},
        {"lone CR inside a value", "helo_name=a.exam\rple.test\nsender=s@example.test\n\n", false},
        {"CR CR LF", "helo_name=a.example.test\r\r\nsender=s@example.test\n\n", false},
        {"CR as a line terminator", "helo_name=a.example.test\rsender=s@example.test\r\n\r\n", false},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        const auto got = feed_one(c.text, true);
        if (c.ok) {
            REQUIRE_FALSE(got.error);
            REQUIRE(got.requests.size() == 1);
            CHECK(got.requests[0].helo_name == "a.example.test");
            CHECK(got.requests[0].sender == "s@example.test");
        } else {
            REQUIRE(got.error);
            CHECK(got.error->kind == Kind::Binary);
            CHECK(got.error->value == '\r');
            CHECK(got.requests.empty());
        }
    }
    SECTION("a CRLF split between chunks") {
        const auto got = feed({"helo_name=a.example.test\r", "\n\r", "\n"});
        REQUIRE_FALSE(got.error);
        REQUIRE(got.requests.size() == 1);
        CHECK(got.requests[0].helo_name == "a.example.test");
    }
}

TEST_CASE("parser: line length limit", "[parser]") {
    SECTION("exactly 4096 bytes is accepted, LF or CRLF") {
        const auto line = attribute_line(4096);
        for (const char* end : {"\n", "\r\n"}) {
            const auto got = feed_one(line + end + "sender=s@example.test\n\n", true);
            REQUIRE_FALSE(got.error);
            REQUIRE(got.requests.size() == 1);
            CHECK(got.requests[0].sender == "s@example.test");
        }
    }
    SECTION("4097 bytes is refused, in one piece or split") {
        const auto line = attribute_line(4097) + "\n\n";
        for (std::size_t at : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{4097}, line.size()}) {
            INFO("split at " << at);
            const auto got = feed({line.substr(0, at), line.substr(at)}, true);
            REQUIRE(got.error);
            CHECK(got.error->kind == Kind::LineTooLong);
            CHECK(got.error->line == 1);
            CHECK(got.error->value == 4096);
        }
    }
    SECTION("an endless line fails before its end arrives, holding at most one line") {
        Parser parser;
        const std::string chunk(1000, 'a');
        std::size_t fed = 0;
        Parser::Status status = Parser::Status::NeedMore;
        policy::Request request;
        while (status == Parser::Status::NeedMore && fed < 100'000) {
            std::string_view input = chunk;
            status = parser.parse(input, request);
            fed += chunk.size();
        }
        REQUIRE(status == Parser::Status::Error);
        CHECK(parser.error().kind == Kind::LineTooLong);
        CHECK(fed <= 5000);
    }
}

TEST_CASE("parser: request length limit", "[parser]") {
    // 15 lines of 4096 bytes + LF, then one line that brings the request to `total`
    // bytes with the final empty line.
    auto request_of = [](std::size_t total) {
        std::string text;
        for (int i = 0; i < 15; ++i) text += attribute_line(4096) + "\n";
        const auto last = total - text.size() - 2;   // its LF and the final LF
        text += attribute_line(last) + "\n\n";
        REQUIRE(text.size() == total);
        return text;
    };
    SECTION("exactly 64 KiB is accepted") {
        const auto got = feed_one(request_of(65536), true);
        REQUIRE_FALSE(got.error);
        CHECK(got.requests.size() == 1);
    }
    SECTION("64 KiB + 1 is refused") {
        const auto got = feed_one(request_of(65537), true);
        REQUIRE(got.error);
        CHECK(got.error->kind == Kind::RequestTooLong);
        CHECK(got.error->value == 65536);
    }
    SECTION("the limit is per request: two requests of 40 KiB each are fine") {
        std::string one;
        for (int i = 0; i < 10; ++i) one += attribute_line(4000) + "\n";
        one += "\n";
        const auto got = feed_one(one + one, true);
        REQUIRE_FALSE(got.error);
        CHECK(got.requests.size() == 2);
    }
    SECTION("a request that cannot end in time fails before its last line ends") {
        auto text = request_of(65537);
        text.resize(text.size() - 2);   // the last line, without terminator
        const auto got = feed_one(text);
        REQUIRE(got.error);
        CHECK(got.error->kind == Kind::RequestTooLong);
    }
}

TEST_CASE("parser: attribute count limit", "[parser]") {
    auto request_with = [](int n) {
        std::string text;
        for (int i = 0; i < n; ++i) text += "unknown_" + std::to_string(i) + "=x\n";
        return text + "client_address=192.0.2.7\n\n";   // counts as one more
    };
    const auto at_limit = feed_one(request_with(255), true);
    REQUIRE_FALSE(at_limit.error);
    REQUIRE(at_limit.requests.size() == 1);
    CHECK(at_limit.requests[0].client_address == "192.0.2.7");

    const auto over = feed_one(request_with(256), true);
    REQUIRE(over.error);
    CHECK(over.error->kind == Kind::TooManyAttributes);
    CHECK(over.error->line == 257);
    CHECK(over.error->value == 256);
    CHECK(over.requests.empty());
}

TEST_CASE("parser: malformed lines", "[parser]") {
    struct Case {
        const char* label;
        std::string text;
        Kind kind;
        std::size_t line;
        std::size_t value;
    };
    const Case cases[] = {
        {"no '='", "request=smtpd_access_policy\njunk\n\n", Kind::NoEquals, 2, 0},
        {"spaces, no '='", "GET / HTTP/1.0\n\n", Kind::NoEquals, 1, 0},
        {"empty name", "=value\n\n", Kind::EmptyName, 1, 0},
        {"NUL in a value", std::string("sender=a\0b@example.test\n\n", 25), Kind::Binary, 1, 0},
        {"NUL in a name", std::string("sen\0der=a@example.test\n\n", 24), Kind::Binary, 1, 0},
        {"NUL alone", std::string("\0\n\n", 3), Kind::Binary, 1, 0},
        {"control byte", "helo_name=a\x01.example.test\n\n", Kind::Binary, 1, 1},
        {"escape", "helo_name=\x1b[2J\n\n", Kind::Binary, 1, 0x1b},
        {"DEL", "helo_name=a\x7f\n\n", Kind::Binary, 1, 0x7f},
        {"TLS handshake junk", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 12), Kind::Binary, 1, 0x16},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        const auto got = feed_one(c.text, true);
        REQUIRE(got.error);
        CHECK(got.error->kind == c.kind);
        CHECK(got.error->line == c.line);
        CHECK(got.error->value == c.value);
        CHECK(got.requests.empty());
        CHECK_FALSE(got.error->to_string().empty());
    }
}

TEST_CASE("parser: the first '=' splits, wherever the 16-byte blocks fall", "[parser]") {
    for (std::size_t name_len = 1; name_len <= 40; ++name_len) {
        const std::string name(name_len, 'n');
        INFO("name of " << name_len << " bytes");
        const auto got = feed_one(name + "=a=b\tc=\nrecipient=x=y@example.org\n\n", true);
        REQUIRE_FALSE(got.error);
        REQUIRE(got.requests.size() == 1);
        CHECK(got.requests[0].recipient == "x=y@example.org");
    }
    for (std::size_t at = 0; at < 40; ++at) {
        std::string line = "sender=" + std::string(40, 's');
        line.insert(7 + at, "=");
        INFO("second '=' at " << at);
        const auto got = feed_one(line + "\n\n", true);
        REQUIRE_FALSE(got.error);
        REQUIRE(got.requests.size() == 1);
        CHECK(got.requests[0].sender == line.substr(7));
    }
}

TEST_CASE("parser: what is tolerated inside values", "[parser]") {
    const auto got = feed_one("helo_name=a\tb\nsender=j\xc3\xb6rg@example.test\nrecipient=a=b@example.org\n\n", true);
    REQUIRE_FALSE(got.error);
    REQUIRE(got.requests.size() == 1);
    CHECK(got.requests[0].helo_name == "a\tb");
    CHECK(got.requests[0].sender == "j\xc3\xb6rg@example.test");   // SMTPUTF8
    CHECK(got.requests[0].recipient == "a=b@example.org");        // only the first '=' splits
}

TEST_CASE("parser: an error is final", "[parser]") {
    Parser parser;
    const auto got = feed(parser, {"junk\n", postfix_rcpt});
    REQUIRE(got.error);
    CHECK(got.error->kind == Kind::NoEquals);
    std::string_view more = postfix_rcpt;
    policy::Request request;
    CHECK(parser.parse(more, request) == Parser::Status::Error);
    CHECK(parser.failed());
    CHECK(parser.finish() == Parser::Status::Error);
}

TEST_CASE("parser: EOF in the middle of a request", "[parser]") {
    SECTION("inside a line") {
        const auto got = feed_one("request=smtpd_access_policy\nhelo_na", true);
        REQUIRE(got.error);
        CHECK(got.error->kind == Kind::EofMidRequest);
        CHECK(got.error->line == 2);
    }
    SECTION("after a complete line, before the empty line") {
        const auto got = feed_one("request=smtpd_access_policy\n", true);
        REQUIRE(got.error);
        CHECK(got.error->kind == Kind::EofMidRequest);
    }
    SECTION("after a CR") {
        const auto got = feed_one("request=smtpd_access_policy\n\r", true);
        REQUIRE(got.error);
        CHECK(got.error->kind == Kind::EofMidRequest);
    }
    SECTION("between requests is a clean end") {
        const auto got = feed_one(postfix_rcpt + postfix_rcpt, true);
        CHECK_FALSE(got.error);
        CHECK(got.requests.size() == 2);
    }
    SECTION("before anything is a clean end") {
        const auto got = feed_one("", true);
        CHECK_FALSE(got.error);
        CHECK(got.requests.empty());
    }
}

TEST_CASE("parser: duplicate and unknown attributes", "[parser]") {
    const auto got = feed_one("sender=first@example.test\nx_future_attribute=1\nsender=last@example.test\n"
                              "client_address=192.0.2.1\nclient_address=\n\n",
                              true);
    REQUIRE_FALSE(got.error);
    REQUIRE(got.requests.size() == 1);
    CHECK(got.requests[0].sender == "last@example.test");
    CHECK(got.requests[0].client_address.empty());   // last wins, even when empty
}

TEST_CASE("parser: a request does not inherit the previous one's attributes", "[parser]") {
    const auto got = feed_one("sender=a@example.test\nhelo_name=h.example.test\n\nsender=b@example.test\n\n", true);
    REQUIRE(got.requests.size() == 2);
    CHECK(got.requests[1].sender == "b@example.test");
    CHECK(got.requests[1].helo_name.empty());
}

TEST_CASE("parser: an empty line alone is an empty request", "[parser]") {
    const auto got = feed_one("\n\r\n", true);
    REQUIRE_FALSE(got.error);
    REQUIRE(got.requests.size() == 2);
    CHECK(got.requests[0].request.empty());
    CHECK(got.requests[0].client_address.empty());
}

TEST_CASE("request: every attribute Postfix sends is stored by name", "[parser][request]") {
    const char* names[] = {
        "request", "protocol_state", "protocol_name", "helo_name", "queue_id", "sender", "recipient",
        "recipient_count", "client_address", "client_name", "reverse_client_name", "instance", "sasl_method",
        "sasl_username", "sasl_sender", "size", "ccert_subject", "ccert_issuer", "ccert_fingerprint",
        "ccert_pubkey_fingerprint", "encryption_protocol", "encryption_cipher", "encryption_keysize",
        "etrn_domain", "stress", "client_port", "server_address", "server_port", "policy_context",
        "compatibility_level", "mail_version",
    };
    for (const char* name : names) {
        INFO(name);
        policy::Request r;
        CHECK(r.set(name, "v"));
        // Same length, first and last byte (the same table slot), one byte off: unknown.
        std::string near(name);
        near[near.size() / 2] = near[near.size() / 2] == 'x' ? 'y' : 'x';
        CHECK_FALSE(r.set(near, "w"));
        CHECK_FALSE(r.set(std::string(name) + "s", "w"));
        CHECK_FALSE(r.set(std::string(name).substr(1), "w"));
    }
    policy::Request r;
    CHECK_FALSE(r.set("", "v"));
    CHECK_FALSE(r.set("Sender", "v"));
    CHECK_FALSE(r.set("zzz", "v"));
    CHECK_FALSE(r.set("aaa", "v"));
    CHECK(r.set("mail_version", "3.8.0"));
    CHECK(r.mail_version == "3.8.0");
    CHECK(r.set("request", "smtpd_access_policy"));
    CHECK(r.request == "smtpd_access_policy");
}

TEST_CASE("parser: a recycled Request keeps nothing of the old one", "[parser]") {
    Parser parser;
    policy::Request reused;
    reused.sender = "old@example.test";
    reused.helo_name = "old.example.test";
    std::string_view input = "sender=new@example.test\n\nhelo_name=h.example.test\n\n\n";
    REQUIRE(parser.parse(input, reused) == Parser::Status::Complete);
    CHECK(reused.sender == "new@example.test");
    CHECK(reused.helo_name.empty());
    REQUIRE(parser.parse(input, reused) == Parser::Status::Complete);
    CHECK(reused.helo_name == "h.example.test");
    CHECK(reused.sender.empty());
    SECTION("also by an empty request") {
        REQUIRE(parser.parse(input, reused) == Parser::Status::Complete);
        CHECK(reused.helo_name.empty());
        CHECK(input.empty());
    }
    SECTION("a request split over calls, with the previous one's values in the Request until it begins") {
        std::string_view first = "sender=split@exa";
        CHECK(parser.parse(first, reused) == Parser::Status::NeedMore);
        std::string_view rest = "mple.test\nqueue_id=Q1\n\n";
        REQUIRE(parser.parse(rest, reused) == Parser::Status::Complete);
        CHECK(reused.sender == "split@example.test");
        CHECK(reused.queue_id == "Q1");
        CHECK(reused.helo_name.empty());
    }
}

TEST_CASE("parser: every byte value at every position of a word is judged alike", "[parser]") {
    // The scan looks at 16 bytes at a time, then byte by byte at the end of the input:
    // each value at each offset of the first blocks and of the tail.
    for (int b = 0; b < 256; ++b) {
        const auto byte = static_cast<char>(b);
        if (byte == '\n' || byte == '\r') continue;   // line ends: their own tests
        const bool forbidden = (b < 0x20 && b != '\t') || b == 0x7f;
        for (std::size_t at = 0; at < 40; ++at) {
            std::string value(40, 'v');
            value[at] = byte;
            INFO("byte " << b << " at " << at);
            const auto got = feed_one("helo_name=" + value + "\n\n", true);
            if (forbidden) {
                REQUIRE(got.error);
                CHECK(got.error->kind == Kind::Binary);
                CHECK(got.error->value == static_cast<std::size_t>(b));
            } else {
                REQUIRE_FALSE(got.error);
                REQUIRE(got.requests.size() == 1);
                CHECK(got.requests[0].helo_name == value);
            }
        }
    }
}
