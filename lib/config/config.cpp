#include "config/config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>
#include <toml++/toml.h>

#include "config/settings.hpp"

namespace rpd::config {

namespace {

Position position_of(const toml::source_region& region) {
    return {static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

std::string_view type_name(toml::node_type type) {
    switch (type) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    }
    return "an unknown type";
}

std::string full_key(const Setting& s) {
    return s.section.empty() ? std::string(s.key) : fmt::format("{}.{}", s.section, s.key);
}

// The type check every setting shares: the node must have the setting's type (array
// elements too); then the Value carries it, with positions, to the setting's validator.
std::optional<Value> typed_value(const Setting& s, const toml::node& node, Complaints& errors) {
    Value v;
    v.where = position_of(node.source());
    const auto want = [&] {
        switch (s.type) {
        case ValueType::Bool: return toml::node_type::boolean;
        case ValueType::Integer: return toml::node_type::integer;
        case ValueType::String: return toml::node_type::string;
        case ValueType::StringArray: return toml::node_type::array;
        }
        return toml::node_type::none;
    }();
    if (node.type() != want) {
        errors.add(v.where, fmt::format("{}: expected {}, got {}", full_key(s), s.hint, type_name(node.type())));
        return std::nullopt;
    }
    switch (s.type) {
    case ValueType::Bool: v.boolean = node.as_boolean()->get(); break;
    case ValueType::Integer: v.integer = node.as_integer()->get(); break;
    case ValueType::String: v.string = node.as_string()->get(); break;
    case ValueType::StringArray: {
        bool ok = true;
        std::size_t index = 0;
        for (const auto& element : *node.as_array()) {
            if (const auto* str = element.as_string()) {
                v.items.push_back({str->get(), position_of(element.source())});
            } else {
                errors.add(position_of(element.source()),
                           fmt::format("{}[{}]: expected a string, got {}", full_key(s), index, type_name(element.type())));
                ok = false;
            }
            ++index;
        }
        if (!ok) return std::nullopt;
        break;
    }
    }
    return v;
}

void apply_node(const Setting& s, const toml::node& node, Config& config, Complaints& errors) {
    auto value = typed_value(s, node, errors);
    if (!value) return;
    Complaints complaints;
    s.apply(*value, config, complaints);
    for (auto& [at, message] : complaints.list) errors.add(at, fmt::format("{}: {}", full_key(s), message));
}

const Setting* find_setting(std::string_view section, std::string_view key) {
    const auto all = settings();
    const auto it = std::find_if(all.begin(), all.end(),
                                  [&](const Setting& s) { return s.section == section && s.key == key; });
    return it == all.end() ? nullptr : &*it;
}

bool is_section(std::string_view name) {
    const auto all = settings();
    return !name.empty() && std::any_of(all.begin(), all.end(), [&](const Setting& s) { return s.section == name; });
}

// A built-in value (a default or a preset row) goes through the same validator as the
// file's; if it fails, the table itself is wrong: a programming error.
void apply_builtin(const Setting& s, std::string_view toml_value, Config& config) {
    const auto text = fmt::format("v = {}", toml_value);
    const auto doc = toml::parse(std::string_view(text), std::string_view("<built-in>"));
    Complaints errors;
    apply_node(s, *doc.get("v"), config, errors);
    if (!errors.list.empty()) {
        throw std::logic_error(fmt::format("built-in value for {} is invalid: {}", full_key(s), errors.list.front().second));
    }
}

const Config& defaults() {
    static const Config config = [] {
        Config c;
        for (const auto& s : settings()) {
            if (!s.default_toml.empty()) apply_builtin(s, s.default_toml, c);
        }
        return c;
    }();
    return config;
}

void apply_postfix_preset(Config& config) {
    for (const auto& row : postfix_preset()) {
        const auto* s = find_setting(row.section, row.key);
        if (s == nullptr) throw std::logic_error(fmt::format("preset names unknown key {}.{}", row.section, row.key));
        apply_builtin(*s, row.toml, config);
    }
}

std::string unknown_key_message(std::string_view section, std::string_view key) {
    auto message = section.empty() ? fmt::format("unknown key '{}'", key)
                                   : fmt::format("unknown key '{}' in [{}]", key, section);
    // A key in the wrong section is a common slip; say where it belongs.
    for (const auto& s : settings()) {
        if (s.key == key && s.section != section) {
            message += s.section.empty() ? " (it belongs at the top of the file)"
                                         : fmt::format(" (it belongs in [{}])", s.section);
            break;
        }
    }
    return message;
}

void apply_document(const toml::table& doc, Config& config, Complaints& errors) {
    // The preset first, so that every key the file sets overrides it wherever it is written.
    if (const auto* preset = doc.get("preset")) {
        apply_node(*find_setting("", "preset"), *preset, config, errors);
        if (config.preset_postfix) apply_postfix_preset(config);
    }
    for (const auto& [key, node] : doc) {
        const auto name = key.str();
        if (name == "preset") continue;
        if (is_section(name)) {
            const auto* table = node.as_table();
            if (table == nullptr) {
                errors.add(position_of(key.source()),
                           fmt::format("[{}] must be a table (a section), got {}", name, type_name(node.type())));
                continue;
            }
            for (const auto& [inner_key, inner] : *table) {
                if (const auto* s = find_setting(name, inner_key.str())) {
                    apply_node(*s, inner, config, errors);
                } else {
                    errors.add(position_of(inner_key.source()), unknown_key_message(name, inner_key.str()));
                }
            }
        } else if (const auto* s = find_setting("", name)) {
            apply_node(*s, node, config, errors);
        } else if (node.is_table()) {
            errors.add(position_of(key.source()),
                       fmt::format("unknown section [{}] (sections: server, dns, log, metrics, allowlist, "
                                   "headers, client, helo, sender)",
                                   name));
        } else {
            errors.add(position_of(key.source()), unknown_key_message("", name));
        }
    }
}

ConfigError make_error(const std::string& file, Position at, std::string message) {
    return ConfigError{file, at.line, at.column, std::move(message)};
}

}  // namespace

std::string ConfigError::to_string() const {
    if (line == 0) return fmt::format("{}: {}", file, message);
    return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

LoadResult load_string(std::string_view toml_text, const std::string& name) {
    toml::table doc;
    try {
        doc = toml::parse(toml_text, std::string_view(name));
    } catch (const toml::parse_error& e) {
        return std::vector<ConfigError>{
            make_error(name, position_of(e.source()), fmt::format("TOML syntax error: {}", e.description()))};
    }
    auto config = std::make_shared<Config>(defaults());
    config->path = name;
    Complaints errors;
    apply_document(doc, *config, errors);
    if (!errors.list.empty()) {
        // Tables iterate in key order; report in file order, as a compiler would.
        std::stable_sort(errors.list.begin(), errors.list.end(), [](const auto& a, const auto& b) {
            return std::pair(a.first.line, a.first.column) < std::pair(b.first.line, b.first.column);
        });
        std::vector<ConfigError> out;
        out.reserve(errors.list.size());
        for (auto& [at, message] : errors.list) out.push_back(make_error(name, at, std::move(message)));
        return out;
    }
    return std::shared_ptr<const Config>(std::move(config));
}

LoadResult load_file(const std::string& path) {
    const auto cannot_read = [&](int err) {
        return std::vector<ConfigError>{ConfigError{path, 0, 0, fmt::format("cannot read: {}", std::strerror(err))}};
    };
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cannot_read(errno);
    std::string text;
    char buf[8192];
    while (true) {
        const auto n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            return cannot_read(err);
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return load_string(text, path);
}

}  // namespace rpd::config
