// The tests' JSON reader (t/support/json.hpp): what `check --json` output is read with.
#include <catch2/catch.hpp>

#include "support/json.hpp"

using rpd::test::parse_json;

TEST_CASE("test json reader: values, nesting, escapes", "[support][json]") {
    const auto j = parse_json(R"( {"a" : [1, 2.5, true, null, "x\n\u0041\u00e9"], "b": {"c": ""}} )");
    REQUIRE(j);
    CHECK(j->is_object());
    CHECK(j->size() == 2);
    CHECK((*j)["a"].size() == 5);
    CHECK((*j)["a"][1].number() == 2.5);
    CHECK((*j)["a"][2].boolean());
    CHECK((*j)["a"][4].str() == "x\nA\xc3\xa9");
    CHECK((*j)["b"]["c"].is_string());
    CHECK((*j)["missing"]["deeper"].str().empty());
}

TEST_CASE("test json reader: refuses what is not one JSON value", "[support][json]") {
    for (const char* bad : {"", "{", "{\"a\":1,}", "[1 2]", "\"a\nb\"", "{\"a\":1} x", "\"\\x\"", "tru"}) {
        INFO(bad);
        CHECK_FALSE(parse_json(bad));
    }
}
