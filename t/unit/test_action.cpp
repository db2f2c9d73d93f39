#include <catch2/catch.hpp>

#include "rules/action.hpp"

using namespace rpd;
using rules::ActionKind;
using rules::Severity;

namespace {

struct Good {
    const char* label;
    const char* text;
    ActionKind kind;
    Severity severity;
    int code;
    const char* stored;   // Action::text
};

struct Bad {
    const char* label;
    const char* text;
    const char* error;    // a part of the message that must be there
};

}  // namespace

TEST_CASE("action: every access(5) action a policy server may return", "[rules][action]") {
    const Good cases[] = {
        {"OK", "OK", ActionKind::Ok, Severity::Ok, 0, "OK"},
        {"DUNNO", "DUNNO", ActionKind::Dunno, Severity::Dunno, 0, "DUNNO"},
        {"words are case-insensitive", "dunno", ActionKind::Dunno, Severity::Dunno, 0, "DUNNO"},
        {"surrounding blanks are dropped", "  DUNNO\t", ActionKind::Dunno, Severity::Dunno, 0, "DUNNO"},
        {"REJECT", "REJECT", ActionKind::Reject, Severity::Reject, 0, "REJECT"},
        {"REJECT text", "Reject go away", ActionKind::Reject, Severity::Reject, 0, "REJECT go away"},
        {"REJECT with 5.x.x", "REJECT 5.7.1 go away", ActionKind::Reject, Severity::Reject, 0, "REJECT 5.7.1 go away"},
        {"DEFER", "DEFER", ActionKind::Defer, Severity::Defer, 0, "DEFER"},
        {"DEFER text", "DEFER 4.4.3 try later", ActionKind::Defer, Severity::Defer, 0, "DEFER 4.4.3 try later"},
        {"DEFER_IF_PERMIT", "DEFER_IF_PERMIT", ActionKind::DeferIfPermit, Severity::DeferIfPermit, 0, "DEFER_IF_PERMIT"},
        {"DEFER_IF_PERMIT text", "defer_if_permit 4.7.1 Host not found", ActionKind::DeferIfPermit,
         Severity::DeferIfPermit, 0, "DEFER_IF_PERMIT 4.7.1 Host not found"},
        {"DEFER_IF_REJECT text", "DEFER_IF_REJECT later", ActionKind::DeferIfReject, Severity::DeferIfReject, 0,
         "DEFER_IF_REJECT later"},
        {"450 text", "450 try again", ActionKind::Code, Severity::Defer, 450, "450 try again"},
        {"450 4.7.1 text", "450 4.7.1 Host not found", ActionKind::Code, Severity::Defer, 450, "450 4.7.1 Host not found"},
        {"421 closes", "421 4.7.1 closing", ActionKind::Code, Severity::Defer, 421, "421 4.7.1 closing"},
        {"550 5.7.27 with placeholder", "550 5.7.27 Domain {sender_domain} does not accept mail (nullMX)",
         ActionKind::Code, Severity::Reject, 550, "550 5.7.27 Domain {sender_domain} does not accept mail (nullMX)"},
        {"521 closes", "521 5.7.1 no reverse DNS for [{client_address}]", ActionKind::Code, Severity::Reject, 521,
         "521 5.7.1 no reverse DNS for [{client_address}]"},
        {"enhanced code with 3-digit parts", "550 5.100.999 odd but valid", ActionKind::Code, Severity::Reject, 550,
         "550 5.100.999 odd but valid"},
        {"WARN text", "WARN no reverse DNS", ActionKind::Warn, Severity::Warn, 0, "WARN no reverse DNS"},
        {"WARN alone (access(5): optional text)", "WARN", ActionKind::Warn, Severity::Warn, 0, "WARN"},
        {"PREPEND header", "PREPEND X-Reverse-Lookup: client=no_ptr", ActionKind::Prepend, Severity::Prepend, 0,
         "PREPEND X-Reverse-Lookup: client=no_ptr"},
        {"PREPEND empty value", "PREPEND X-Flag:", ActionKind::Prepend, Severity::Prepend, 0, "PREPEND X-Flag:"},
        {"HOLD", "HOLD", ActionKind::Hold, Severity::Divert, 0, "HOLD"},
        {"HOLD text", "HOLD suspicious {client_address}", ActionKind::Hold, Severity::Divert, 0,
         "HOLD suspicious {client_address}"},
        {"DISCARD", "discard", ActionKind::Discard, Severity::Divert, 0, "DISCARD"},
        {"FILTER", "FILTER smtp:[127.0.0.1]:10025", ActionKind::Filter, Severity::Divert, 0,
         "FILTER smtp:[127.0.0.1]:10025"},
        {"REDIRECT", "REDIRECT quarantine@example.org", ActionKind::Redirect, Severity::Divert, 0,
         "REDIRECT quarantine@example.org"},
        {"INFO", "INFO looked up {check}: {outcome} ({detail})", ActionKind::Info, Severity::Info, 0,
         "INFO looked up {check}: {outcome} ({detail})"},
        {"every placeholder", "450 {client_address} {client_name} {ptr_names} {helo_name} {sender} "
                              "{sender_domain} {recipient} {queue_id} {check} {outcome} {detail}",
         ActionKind::Code, Severity::Defer, 450,
         "450 {client_address} {client_name} {ptr_names} {helo_name} {sender} "
         "{sender_domain} {recipient} {queue_id} {check} {outcome} {detail}"},
        {"a lone '}' is text", "REJECT smile :-}", ActionKind::Reject, Severity::Reject, 0, "REJECT smile :-}"},
    };
    for (const auto& c : cases) {
        INFO(c.label << ": '" << c.text << "'");
        const auto got = rules::parse_action(c.text);
        REQUIRE(std::holds_alternative<rules::Action>(got));
        const auto& a = std::get<rules::Action>(got);
        CHECK(a.kind == c.kind);
        CHECK(a.severity == c.severity);
        CHECK(a.code == c.code);
        CHECK(a.text == c.stored);
    }
}

TEST_CASE("action: what Postfix would misread is refused with a reason", "[rules][action]") {
    const Bad cases[] = {
        {"empty", "", "an empty action is taken by Postfix as OK"},
        {"blanks only", "  \t ", "an empty action is taken by Postfix as OK"},
        {"bare 4NN code", "450", "Postfix takes a bare code as OK"},
        {"bare 5NN code", "550", "Postfix takes a bare code as OK"},
        {"code and enhanced code, no text", "550 5.7.1", "Postfix takes a bare code as OK"},
        {"code with blanks only after it", "450   ", "Postfix takes a bare code as OK"},
        {"2NN", "250 fine", "only 4NN (defer) and 5NN (reject)"},
        {"3NN", "354 go ahead", "only 4NN (defer) and 5NN (reject)"},
        {"600", "600 what", "only 4NN (defer) and 5NN (reject)"},
        {"second digit above 5", "470 odd", "not a valid SMTP code"},
        {"four digits", "4500 text", "unknown action '4500'"},
        {"code glued to text", "450text", "unknown action '450text'"},
        {"4NN with 5.x.x", "450 5.1.1 nope", "does not agree with reply code 450 (want 4.x.x)"},
        {"5NN with 4.x.x", "550 4.7.1 nope", "does not agree with reply code 550 (want 5.x.x)"},
        {"5NN with 2.x.x", "550 2.0.0 nope", "does not agree"},
        {"REJECT with 4.x.x", "REJECT 4.7.1 nope", "does not agree with REJECT (want 5.x.x)"},
        {"DEFER with 5.x.x", "DEFER 5.7.1 nope", "does not agree with DEFER (want 4.x.x)"},
        {"DEFER_IF_PERMIT with 5.x.x", "DEFER_IF_PERMIT 5.7.1 nope", "does not agree with DEFER_IF_PERMIT"},
        {"malformed enhanced code", "450 4.7 text", "malformed enhanced status code '4.7'"},
        {"enhanced code with 4-digit part", "450 4.7.1000 text", "malformed enhanced status code"},
        {"unknown word", "ACCEPT", "unknown action 'ACCEPT'"},
        {"restriction name", "reject_unknown_client_hostname", "unknown action"},
        {"OK with text", "OK fine", "OK takes no text"},
        {"DUNNO with text", "DUNNO maybe", "DUNNO takes no text"},
        {"PREPEND without header", "PREPEND", "PREPEND needs an argument"},
        {"PREPEND without colon", "PREPEND X-Foo bar", "PREPEND needs a header"},
        {"PREPEND with space in name", "PREPEND X Foo: bar", "PREPEND needs a header"},
        {"PREPEND empty name", "PREPEND : bar", "PREPEND needs a header"},
        {"FILTER without argument", "FILTER", "FILTER needs an argument"},
        {"FILTER without colon", "FILTER smtp", "FILTER needs transport:destination"},
        {"REDIRECT without @", "REDIRECT postmaster", "REDIRECT needs user@domain"},
        {"unknown placeholder", "450 hello {client_ip}", "unknown placeholder {client_ip}"},
        {"empty placeholder", "450 hello {}", "unknown placeholder {}"},
        {"unterminated placeholder", "450 hello {client_address", "unterminated placeholder"},
        {"nested brace", "450 hello {client{sender}", "unterminated placeholder"},
        {"placeholders are case-sensitive", "450 {Client_Address}", "unknown placeholder {Client_Address}"},
        {"CR LF", "REJECT a\r\nb", "control character"},
    };
    for (const auto& c : cases) {
        INFO(c.label << ": '" << c.text << "'");
        const auto got = rules::parse_action(c.text);
        REQUIRE(std::holds_alternative<std::string>(got));
        CHECK_THAT(std::get<std::string>(got), Catch::Matchers::Contains(c.error));
    }
    // An admin's long or 8-bit word comes back short and printable.
    const auto long_word = rules::parse_action(std::string(10000, 'X') + "\xff");
    REQUIRE(std::holds_alternative<std::string>(long_word));
    CHECK(std::get<std::string>(long_word).size() < 80);
    CHECK(std::get<std::string>(rules::parse_action("ACC\xe9PT")) == "unknown action 'ACC?PT'");
    // A NUL inside the text (not visible through a C string above).
    const auto nul = rules::parse_action(std::string_view("REJECT a\0b", 10));
    REQUIRE(std::holds_alternative<std::string>(nul));
    CHECK_THAT(std::get<std::string>(nul), Catch::Matchers::Contains("control character"));
}

TEST_CASE("action: severity order and the helpers the decision relies on", "[rules][action]") {
    const auto get = [](const char* text) { return std::get<rules::Action>(rules::parse_action(text)); };
    CHECK(get("521 5.7.1 bye").disconnects());
    CHECK(get("421 4.7.1 bye").disconnects());
    CHECK_FALSE(get("550 5.7.1 no").disconnects());
    CHECK(get("550 5.7.1 no").is_permanent());
    CHECK(get("REJECT").is_permanent());
    CHECK_FALSE(get("450 4.7.1 later").is_permanent());
    CHECK_FALSE(get("DEFER_IF_PERMIT").is_permanent());
    for (const char* text : {"REJECT", "550 x", "DEFER", "450 x", "DEFER_IF_PERMIT", "DEFER_IF_REJECT"}) {
        INFO(text);
        CHECK(get(text).rejects_or_defers());
    }
    for (const char* text : {"OK", "DUNNO", "WARN x", "PREPEND X-A: b", "HOLD", "DISCARD", "INFO x"}) {
        INFO(text);
        CHECK_FALSE(get(text).rejects_or_defers());
    }
    CHECK(get("550 x").severity > get("450 x").severity);
    CHECK(get("DEFER").severity > get("DEFER_IF_PERMIT").severity);
    CHECK(get("DEFER_IF_PERMIT").severity > get("DEFER_IF_REJECT").severity);
    CHECK(get("DEFER_IF_REJECT").severity > get("HOLD").severity);
    CHECK(get("HOLD").severity > get("PREPEND X-A: b").severity);
    CHECK(get("PREPEND X-A: b").severity > get("WARN x").severity);
    CHECK(get("WARN x").severity > get("DUNNO").severity);
}

TEST_CASE("action: known placeholders", "[rules][action]") {
    for (const char* name : {"client_address", "client_name", "ptr_names", "helo_name", "sender", "sender_domain",
                             "recipient", "queue_id", "check", "outcome", "detail"}) {
        INFO(name);
        CHECK(rules::is_known_placeholder(name));
    }
    for (const char* name : {"", "client", "CLIENT_ADDRESS", "client_address ", "sasl_username"}) {
        INFO(name);
        CHECK_FALSE(rules::is_known_placeholder(name));
    }
}
