// Packed check results: every field but the lookups survives pack/unpack; junk bytes are
// refused; the store expires, replaces and drops its least recently used entry.
#include <catch2/catch.hpp>

#include "checks/packed_results.hpp"

using namespace rpd;
using namespace std::chrono_literals;
using checks::PackedResults;

TEST_CASE("packed results: a round trip keeps every field but the lookups", "[packed]") {
    checks::ClientResult c;
    c.outcome = checks::ClientOutcome::TempFail;
    c.detail = "A mail.example.test: SERVFAIL";
    c.ptr_names = {"mail.example.test", "", std::string(253, 'x')};
    c.confirmed_names = {"mail.example.test"};
    c.ptr_failed = true;
    c.lookups.resize(2);
    const auto back = checks::unpack_client(checks::pack(c));
    REQUIRE(back);
    CHECK(back->outcome == c.outcome);
    CHECK(back->detail == c.detail);
    CHECK(back->ptr_names == c.ptr_names);
    CHECK(back->confirmed_names == c.confirmed_names);
    CHECK(back->ptr_failed);
    CHECK(back->lookups.empty());
    CHECK(checks::unpack_client(checks::pack(c, false))->detail.empty());
    CHECK(checks::unpack_client(checks::pack(c, false))->ptr_names == c.ptr_names);

    for (const auto o : {checks::ClientOutcome::Pass, checks::ClientOutcome::NoPtr, checks::ClientOutcome::Mismatch,
                         checks::ClientOutcome::Skip}) {
        checks::ClientResult r;
        r.outcome = o;
        CHECK(checks::unpack_client(checks::pack(r))->outcome == o);
    }
    for (const auto o : {checks::HeloOutcome::Pass, checks::HeloOutcome::Invalid, checks::HeloOutcome::NonFqdn,
                         checks::HeloOutcome::NotFound, checks::HeloOutcome::Forged, checks::HeloOutcome::TempFail,
                         checks::HeloOutcome::Skip}) {
        checks::HeloResult r;
        r.outcome = o;
        r.detail = "d";
        r.bad_literal = o == checks::HeloOutcome::Invalid;
        const auto h = checks::unpack_helo(checks::pack(r));
        REQUIRE(h);
        CHECK(h->outcome == o);
        CHECK(h->detail == "d");
        CHECK(h->bad_literal == r.bad_literal);
    }
    for (const auto o : {checks::SenderOutcome::Pass, checks::SenderOutcome::NotFound, checks::SenderOutcome::NullMx,
                         checks::SenderOutcome::Forged, checks::SenderOutcome::TempFail, checks::SenderOutcome::Skip}) {
        checks::SenderResult r;
        r.outcome = o;
        r.detail = std::string(300, 'y');
        const auto back_s = checks::unpack_sender(checks::pack(r));
        REQUIRE(back_s);
        CHECK(back_s->outcome == o);
        CHECK(back_s->detail == r.detail);
    }
}

TEST_CASE("packed results: bytes of another kind, cut short or with junk are refused", "[packed]") {
    checks::ClientResult c;
    c.outcome = checks::ClientOutcome::Pass;
    c.detail = "mail.example.test has A 192.0.2.1";
    c.ptr_names = {"mail.example.test"};
    c.confirmed_names = {"mail.example.test"};
    const auto bytes = checks::pack(c);
    CHECK_FALSE(checks::unpack_helo(bytes));
    CHECK_FALSE(checks::unpack_sender(bytes));
    for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(checks::unpack_client(bytes.substr(0, n)));
    CHECK_FALSE(checks::unpack_client(bytes + "x"));
    auto bad_outcome = bytes;
    bad_outcome[1] = 99;
    CHECK_FALSE(checks::unpack_client(bad_outcome));
    CHECK_FALSE(checks::unpack_client(std::string("c\0\0\xff\xff", 5)));   // a length past the end
}

TEST_CASE("packed results: the store expires, replaces and drops the least recently used", "[packed]") {
    const checks::PackedTime t0{std::chrono::hours(1)};
    PackedResults store(2);
    store.insert("a", "A", t0 + 10s);
    store.insert("b", "B", t0 + 10s);
    REQUIRE(store.find("a", t0));
    CHECK(store.find("a", t0)->packed == "A");
    CHECK(store.find("a", t0)->expires == t0 + 10s);
    store.insert("c", "C", t0 + 10s);   // b is the least recently used
    CHECK(store.size() == 2);
    CHECK_FALSE(store.find("b", t0));
    CHECK(store.find("a", t0));
    CHECK(store.find("c", t0)->packed == "C");

    store.insert("a", "A2", t0 + 20s);   // replaced, not added
    CHECK(store.size() == 2);
    CHECK(store.find("a", t0 + 15s)->packed == "A2");
    CHECK_FALSE(store.find("c", t0 + 10s));   // expired at its time, and dropped
    CHECK(store.size() == 1);

    // A key is only ever its own: a prefix or an extension is another key.
    store.insert("ab", "AB", t0 + 20s);
    CHECK(store.find("ab", t0)->packed == "AB");
    CHECK(store.find("a", t0)->packed == "A2");
    CHECK_FALSE(store.find("abc", t0));

    store.clear();
    CHECK(store.size() == 0);
    CHECK_FALSE(store.find("a", t0));
    PackedResults none(0);
    none.insert("a", "A", t0 + 10s);
    CHECK(none.size() == 0);

    // Many entries through a small store: the bound holds and the newest stay.
    PackedResults small(100);
    for (int i = 0; i < 10'000; ++i) small.insert("k" + std::to_string(i), std::to_string(i), t0 + 10s);
    CHECK(small.size() == 100);
    CHECK(small.find("k9999", t0)->packed == "9999");
    CHECK(small.find("k9900", t0)->packed == "9900");
    CHECK_FALSE(small.find("k9899", t0));
}
