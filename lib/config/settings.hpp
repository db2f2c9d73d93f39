// lib/config/settings.hpp -- the parameter table behind config::load_*, and its value parsers.
//
// One row per setting: section, key, type, default (as TOML text) and the function that
// validates a value and stores it in a Config (Postfix's parameter tables). The loader
// builds the default Config from this table, applies the preset's rows, then the file's
// keys; unknown keys and wrong types fall out of the same lookup. Exposed for the tests
// (the sample file must name every row with its default) and for `-t` style tooling.
// Not here: reading files, TOML syntax (config.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace rpd::config {

enum class ValueType : std::uint8_t { Bool, Integer, String, StringArray };

// A value that passed the type check, with where each part of it was written.
struct Position {
    int line = 0;
    int column = 0;
};
struct Value {
    bool boolean = false;
    std::int64_t integer = 0;
    std::string string;
    struct Item {
        std::string string;
        Position where;
    };
    std::vector<Item> items;   // StringArray
    Position where;
};

// Collects a setting's complaints; `at` is the position the message points to.
struct Complaints {
    std::vector<std::pair<Position, std::string>> list;
    void add(Position at, std::string message) { list.emplace_back(at, std::move(message)); }
};

struct Setting {
    std::string_view section;        // "" for a top-level key
    std::string_view key;
    ValueType type;
    std::string_view default_toml;   // the default as a TOML value ("\"2s\"", "4096", "[]")
    void (*apply)(const Value& value, Config& config, Complaints& complaints);
    std::string_view hint;           // what a value looks like, for type errors ("a duration like \"2s\"")
};

std::span<const Setting> settings();

// The preset "postfix" (SPEC §2): (section, key, TOML value) rows applied after the defaults.
struct PresetValue {
    std::string_view section;
    std::string_view key;
    std::string_view toml;
};
std::span<const PresetValue> postfix_preset();

// Parsers with a reason, for error messages (parse_listen() is the optional-only form).
std::variant<ListenAddress, std::string> parse_listen_reason(std::string_view text);
std::variant<NameServer, std::string> parse_nameserver(std::string_view text);

// "mail.example.com" or ".example.net" (a suffix); letters, digits, '-', '_'; RFC 1035 lengths.
bool is_valid_name_pattern(std::string_view text);
// "user@example.org", "@example.org", ".example.org".
bool is_valid_sender_pattern(std::string_view text);

}  // namespace rpd::config
