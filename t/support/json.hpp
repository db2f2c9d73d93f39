// t/support/json.hpp -- a small JSON reader for tests (`reverse-policyd check --json`).
//
// In: text. Out: a Json tree, or nullopt for anything that is not exactly one JSON value
// (trailing junk, bad escapes, unterminated strings, nesting over 64). Numbers are
// doubles; objects keep their keys in a std::map. Only what the tests need: no
// surrogate pairs beyond the Basic Multilingual Plane.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rpd::test {

struct Json {
    using Array = std::vector<Json>;
    using Object = std::map<std::string, Json>;
    std::variant<std::nullptr_t, bool, double, std::string, Array, Object> value;

    bool is_object() const noexcept { return std::holds_alternative<Object>(value); }
    bool is_array() const noexcept { return std::holds_alternative<Array>(value); }
    bool is_string() const noexcept { return std::holds_alternative<std::string>(value); }
    // Member `key` of an object; a null Json when absent or not an object.
    const Json& operator[](const std::string& key) const;
    const Json& operator[](std::size_t i) const;
    std::size_t size() const noexcept;   // array or object size, else 0
    // The string, or "" for anything else.
    std::string str() const;
    double number() const noexcept;
    bool boolean() const noexcept;
};

std::optional<Json> parse_json(std::string_view text);

}  // namespace rpd::test
